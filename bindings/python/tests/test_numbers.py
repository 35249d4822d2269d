"""IdCard, Mobile and encrypt: local validation and what would be sent."""

import datetime

import pytest

import juhe_2fa
from juhe_2fa.testing import Sandbox


def test_idcard_validates_and_masks():
    card = juhe_2fa.IdCard("110105199003071239")
    assert repr(card) == "IdCard('110105********1239')"
    assert str(card) == card.masked == "110105********1239"
    assert card.number == "110105199003071239"
    assert card.birth_date == datetime.date(1990, 3, 7)
    assert card.gender == "male"
    assert juhe_2fa.IdCard("310104198511204567").gender == "female"
    assert card == juhe_2fa.IdCard("110105199003071239") and len({card, card}) == 1
    for bad in ("110105199003071238", "11010519900307123", "110105209913071234", "", "abc"):
        with pytest.raises(juhe_2fa.RejectedError) as caught:
            juhe_2fa.IdCard(bad)
        assert caught.value.field == "idcard"


def test_mobile_validates_masks_and_names_the_carrier():
    mobile = juhe_2fa.Mobile("+86 130-1234-5678")
    assert repr(mobile) == "Mobile('130****5678')"
    assert mobile.number == "13012345678"
    assert (mobile.carrier, mobile.is_unicom) == ("unicom", True)
    assert (juhe_2fa.Mobile("13800138000").carrier, juhe_2fa.Mobile("13800138000").is_unicom) == (
        "mobile",
        False,
    )
    assert juhe_2fa.Mobile("18912345678").carrier == "telecom"
    for bad in ("12012345678", "1301234567", "phone"):
        with pytest.raises(juhe_2fa.RejectedError) as caught:
            juhe_2fa.Mobile(bad)
        assert caught.value.field == "mobile"


def test_encrypt_aes_with_an_openid_is_the_vendors_scheme():
    # The SDK's known answer (crates/juhe-2fa/src/builder.rs, Mode::aes_openid).
    openid = "JH0123456789abcdef0123456789abcd"
    assert juhe_2fa.encrypt("13800000000", openid=openid) == "4OrXBktLnN8vEvItmH/ZFQ=="
    assert juhe_2fa.encrypt(juhe_2fa.Mobile("13800000000"), mode="aes", openid=openid) == (
        "4OrXBktLnN8vEvItmH/ZFQ=="
    )
    assert juhe_2fa.encrypt("13012345678", mode="plain") == "13012345678"
    with pytest.raises(juhe_2fa.ConfigError):
        juhe_2fa.encrypt("13012345678", mode="aes")


def test_encrypted_fields_are_what_the_sandbox_accepts():
    """What `encrypt` returns, sent by hand, is decrypted by the sandbox with the demo keys."""
    import json
    import urllib.parse
    import urllib.request

    with Sandbox() as sb:
        idcard, mobile = Sandbox.MATCH
        for path, options in (
            ("queryEncry", {"mode": "aes", "openid": sb.openid}),
            ("queryRV2", {"mode": "rsa", "rsa_public_key": sb.rsa_public_key}),
        ):
            body = urllib.parse.urlencode(
                {
                    "key": sb.api_key,
                    "idcard": juhe_2fa.encrypt(idcard, **options),
                    "mobile": juhe_2fa.encrypt(mobile, **options),
                }
            ).encode()
            with urllib.request.urlopen(f"{sb.url}/telecom2Cucc/{path}", body) as answer:
                assert json.load(answer)["result"]["res"] == 1
    rsa = {"mode": "rsa", "rsa_public_key": Sandbox().rsa_public_key}
    assert juhe_2fa.encrypt("13012345678", **rsa) != juhe_2fa.encrypt("13012345678", **rsa)
