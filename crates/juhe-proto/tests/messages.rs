//! Validation and carrier texts in both languages; the public form hides the check digit.

use juhe_proto::{Carrier, IdCard, Mobile};

#[test]
fn every_validation_error_in_english_and_chinese() {
    let cases = [
        (IdCard::parse("").unwrap_err(), "身份证号码为空"),
        (
            IdCard::parse("11010519900307123").unwrap_err(),
            "身份证号码应为18位，实际为17位",
        ),
        (
            IdCard::parse("110105900307123").unwrap_err(),
            "这是15位的第一代身份证号码，请提供18位号码",
        ),
        (
            IdCard::parse("1101051990030712A9").unwrap_err(),
            "身份证号码第17位字符无效",
        ),
        (
            IdCard::parse("910105199003071235").unwrap_err(),
            "身份证号码的地区代码无效",
        ),
        (
            IdCard::parse("110105199002301230").unwrap_err(),
            "身份证号码中的出生日期不是真实的日期",
        ),
        (
            IdCard::parse("110105199003071238").unwrap_err(),
            "身份证号码校验位不正确",
        ),
        (
            Mobile::parse("12012345678").unwrap_err(),
            "手机号码应以13至19开头",
        ),
        (
            Mobile::parse("1301234567").unwrap_err(),
            "手机号码应为11位，实际为10位",
        ),
    ];
    for (error, zh) in cases {
        assert_eq!(error.message_zh(), zh, "{error:?}");
        assert!(!error.public_message().is_empty());
    }
    let check_digit = IdCard::parse("110105199003071238").unwrap_err();
    assert!(
        check_digit.to_string().contains("should be 9"),
        "operators see the detail"
    );
    assert!(
        !check_digit.public_message().contains('9'),
        "the public form hides it"
    );
    assert!(!check_digit.message_zh().contains('9'));
}

#[test]
fn carriers_read_well_in_both_languages() {
    let all = [
        (Carrier::Unicom, "China Unicom", "中国联通", "unicom"),
        (Carrier::Mobile, "China Mobile", "中国移动", "mobile"),
        (Carrier::Telecom, "China Telecom", "中国电信", "telecom"),
        (Carrier::Broadnet, "China Broadnet", "中国广电", "broadnet"),
    ];
    for (carrier, en, zh, id) in all {
        assert_eq!(
            (
                carrier.to_string().as_str(),
                carrier.zh_name(),
                carrier.as_str()
            ),
            (en, zh, id)
        );
        assert_eq!(
            serde_json::to_value(carrier).unwrap(),
            id,
            "serialized by its machine name"
        );
    }
}
