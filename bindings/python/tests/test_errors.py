"""One exception per ErrorClass, with the SDK's messages; and no secret in any text."""

import pytest

import juhe_2fa
from juhe_2fa.testing import Sandbox

KEY = "sk-live-7f3a9c2e5b1d4f60a8c7"
NUMBERS = ["110105199003071239", "13012345678", "310104198511204567", "13112345678",
           "440305199208157893", "18612345678", "610103197001010121", "13800138000",
           "110105199003071238", "12012345678"]
CLASSES = {
    juhe_2fa.RejectedError: "rejected",
    juhe_2fa.ApiError: "api",
    juhe_2fa.UnbilledError: "unbilled",
    juhe_2fa.AmbiguousError: "ambiguous",
    juhe_2fa.ConfigError: "config",
    juhe_2fa.CancelledError: "cancelled",
    juhe_2fa.BudgetError: "budget",
}


def every_exception():
    """Each class raised for real, with a distinctive key in play."""
    caught = []

    def expect(cls, call):
        with pytest.raises(cls) as info:
            call()
        caught.append(info.value)

    with Sandbox(api_key=KEY, faults=["none", "http500", {"http_status": 504}]) as sb:
        c = juhe_2fa.Client(KEY, base_url=sb.url, retries=0)
        assert c.verify(*Sandbox.MATCH).is_match  # the first fault slot: none
        expect(juhe_2fa.UnbilledError, lambda: c.verify(*Sandbox.MATCH))
        expect(juhe_2fa.AmbiguousError, lambda: c.verify(*Sandbox.MATCH))
        expect(juhe_2fa.RejectedError, lambda: c.verify("110105199003071238", "13012345678"))
        expect(juhe_2fa.RejectedError, lambda: c.verify("110105199003071239", "12012345678"))
        expect(juhe_2fa.ApiError, lambda: c.verify(*Sandbox.NO_RECORD))
        expect(juhe_2fa.ApiError, lambda: c.verify(*Sandbox.NON_UNICOM))
        expect(juhe_2fa.CancelledError, lambda: c.verify(*Sandbox.MATCH, on_send=lambda a: False))
        budgeted = juhe_2fa.Client(KEY, base_url=sb.url, budget="0/day")
        expect(juhe_2fa.BudgetError, lambda: budgeted.verify(*Sandbox.MATCH))
        wrong_key = juhe_2fa.Client(KEY + "x", base_url=sb.url)
        expect(juhe_2fa.ApiError, lambda: wrong_key.verify(*Sandbox.MATCH))
    expect(juhe_2fa.UnbilledError, lambda: juhe_2fa.Client(KEY, base_url="http://127.0.0.1:9", retries=0).verify(*Sandbox.MATCH))
    expect(juhe_2fa.ConfigError, lambda: juhe_2fa.Client(KEY, mode="rsa", rsa_public_key="nope"))
    expect(juhe_2fa.ConfigError, lambda: juhe_2fa.Client(KEY, mode="aes"))
    expect(juhe_2fa.ConfigError, lambda: juhe_2fa.Client(KEY, base_url=f"http://user:{KEY}@127.0.0.1:1"))
    expect(juhe_2fa.ConfigError, lambda: juhe_2fa.Client(KEY, redis="not a url"))
    expect(juhe_2fa.ConfigError, lambda: juhe_2fa.Client(KEY, budget="lots"))
    expect(juhe_2fa.RejectedError, lambda: juhe_2fa.IdCard("110105199003071238"))
    expect(juhe_2fa.RejectedError, lambda: juhe_2fa.Mobile("12012345678"))
    return caught


ALL = every_exception()


def test_every_class_has_its_exception_and_attributes():
    assert {type(e) for e in ALL} == set(CLASSES)
    for e in ALL:
        assert isinstance(e, juhe_2fa.JuheError) and isinstance(e, Exception)
        assert e.class_ == CLASSES[type(e)]
        assert e.public_message and e.message_zh and str(e)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in e.message_zh), e.message_zh
        assert isinstance(e.retryable, bool) and isinstance(e.nothing_sent, bool)
        assert e.hint is None or isinstance(e.hint, str)
        if isinstance(e, juhe_2fa.ApiError):
            assert isinstance(e.code, int) and e.code > 0
        else:
            assert e.code is None


def test_rejected_names_the_field_and_api_errors_their_code():
    rejected = [e for e in ALL if isinstance(e, juhe_2fa.RejectedError)]
    assert [e.field for e in rejected] == ["idcard", "mobile", "idcard", "mobile"]
    assert rejected[0].public_message == "The ID card number is not valid (check digit)."
    assert rejected[0].message_zh == "身份证号码校验位不正确"
    codes = [e.code for e in ALL if isinstance(e, juhe_2fa.ApiError)]
    assert codes == [232904, 232903, 10001]
    no_record = next(e for e in ALL if e.code == 232904)
    assert no_record.kind == "no_record" and not no_record.retryable
    ambiguous = next(e for e in ALL if isinstance(e, juhe_2fa.AmbiguousError))
    assert "billed" in ambiguous.hint


def test_no_text_holds_the_key_or_an_unmasked_number():
    for e in ALL:
        texts = [str(e), repr(e), e.public_message, e.message_zh, e.hint or "", *map(str, e.args)]
        for text in texts:
            assert KEY not in text, (type(e), text)
            for number in NUMBERS:
                assert number not in text, (type(e), text)


def test_no_repr_holds_the_key_or_an_unmasked_number():
    with Sandbox(api_key=KEY) as sb:
        c = juhe_2fa.Client(KEY, base_url=sb.url)
        a = juhe_2fa.AsyncClient(KEY, base_url=sb.url)
        v = c.verify(*Sandbox.MATCH)
        texts = [repr(c), str(c), repr(a), repr(v), str(v), repr(sb)]
        texts += [repr(juhe_2fa.IdCard(n)) for n in NUMBERS[0:3:2]]
        texts += [str(juhe_2fa.Mobile(n)) for n in NUMBERS[1:4:2]]
        texts += [str(sb.recent_requests()), str(sb.stats())]
    for text in texts:
        assert KEY not in text, text
        for number in NUMBERS:
            assert number not in text, text
    assert "110105********1239" in repr(v) and "130****5678" in repr(v)
