//! Every response shape the vendor (or a broken proxy) can send.

use juhe_proto::{
    Answer, DecodeError, DecodeProblem, ErrorCode, ResponseError, Verdict, parse_response,
    parse_response_redacting,
};

fn respond(status: u16, body: &str) -> Result<Answer, ResponseError> {
    let response = http::Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap();
    parse_response(&response)
}

fn decode_problem(result: Result<Answer, ResponseError>) -> (u16, DecodeProblem, usize) {
    match result {
        Err(ResponseError::Decode(DecodeError {
            status,
            problem,
            body_len,
            ..
        })) => (status, problem, body_len),
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[test]
fn seed_success_example() {
    let body = r#"{
      "reason": "成功",
      "result": { "res": 1, "orderid": "JH329201808081618556756" },
      "error_code": 0
    }"#;
    let v = respond(200, body).unwrap();
    assert_eq!(v.verdict, Verdict::Match);
    assert_eq!(v.order_id, "JH329201808081618556756");
}

#[test]
fn res_as_string_and_mismatch() {
    let v = respond(
        200,
        r#"{"reason":"成功","result":{"res":"2","orderid":"JH1"},"error_code":"0"}"#,
    )
    .unwrap();
    assert_eq!(v.verdict, Verdict::Mismatch);
}

#[test]
fn extra_fields_are_ignored() {
    let body = r#"{"reason":"成功","result":{"res":1,"orderid":"JH2","extra":[1,2]},"error_code":0,"new":{"a":null}}"#;
    assert_eq!(respond(200, body).unwrap().order_id, "JH2");
}

#[test]
fn null_result_with_each_documented_code() {
    for &code in ErrorCode::ALL {
        let body = format!(
            r#"{{"reason":"{}","result":null,"error_code":{}}}"#,
            code.reason_zh(),
            code.code()
        );
        match respond(200, &body) {
            Err(ResponseError::Api { code: got, reason }) => {
                assert_eq!(got, code);
                assert_eq!(reason, code.reason_zh());
            }
            other => panic!("code {}: {other:?}", code.code()),
        }
    }
}

#[test]
fn unknown_code_keeps_its_number_and_falls_back_to_no_reason() {
    match respond(200, r#"{"reason":"","result":null,"error_code":239999}"#) {
        Err(ResponseError::Api { code, .. }) => assert_eq!(code, ErrorCode::Other(239999)),
        other => panic!("{other:?}"),
    }
    match respond(200, r#"{"result":null,"error_code":232904}"#) {
        Err(ResponseError::Api { reason, .. }) => assert_eq!(reason, "查无记录"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_res_is_a_decode_error() {
    let (status, problem, _) = decode_problem(respond(
        200,
        r#"{"result":{"res":3,"orderid":"JH"},"error_code":0}"#,
    ));
    assert_eq!(status, 200);
    assert_eq!(problem, DecodeProblem::UnknownRes("a number".into()));
    let (_, problem, _) = decode_problem(respond(
        200,
        r#"{"result":{"res":"yes","orderid":"JH"},"error_code":0}"#,
    ));
    assert_eq!(problem, DecodeProblem::UnknownRes("a string".into()));
}

#[test]
fn every_kind_of_res_and_code_is_read_or_named() {
    let res = |value: &str| {
        respond(
            200,
            &format!(r#"{{"result":{{"res":{value},"orderid":"JH1"}},"error_code":0}}"#),
        )
    };
    for (value, verdict) in [("1", Verdict::Match), ("\" 2 \"", Verdict::Mismatch)] {
        assert_eq!(res(value).unwrap().verdict, verdict, "{value}");
    }
    for (value, kind) in [
        ("1.0", "a number"),
        ("18446744073709551615", "a number"),
        ("-1", "a number"),
        ("true", "a boolean"),
        (r#"[1,[2,{"a":3}]]"#, "an array"),
        (r#"{"res":1,"x":[null]}"#, "an object"),
        (r#""""#, "a string"),
    ] {
        let (_, problem, _) = decode_problem(res(value));
        assert_eq!(problem, DecodeProblem::UnknownRes(kind.into()), "{value}");
    }
    // `null` is a missing `res`; a string code is read; an object code is no code.
    let (_, problem, _) = decode_problem(res("null"));
    assert_eq!(problem, DecodeProblem::MissingField("result.res"));
    let ok = respond(
        200,
        r#"{"result":{"res":1,"orderid":12345},"error_code":"0"}"#,
    )
    .unwrap();
    assert_eq!(ok.order_id, "12345");
    let (_, problem, _) = decode_problem(respond(
        200,
        r#"{"result":{"res":1,"orderid":"JH1"},"error_code":{"n":0}}"#,
    ));
    assert_eq!(problem, DecodeProblem::MissingField("error_code"));
}

#[test]
fn html_body_keeps_status_and_length_never_the_bytes() {
    let html = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
    let (status, problem, len) = decode_problem(respond(502, html));
    assert_eq!(status, 502);
    assert_eq!(problem, DecodeProblem::NotJson);
    assert_eq!(len, html.len());
    // A middlebox that echoes the request: nothing of the body reaches the message.
    let echo = "<html>key=SECRETKEY&idcard=110105199003071239&mobile=13012345678</html>";
    let err = respond(200, echo).unwrap_err();
    let text = format!("{err} {err:?}");
    for secret in ["SECRETKEY", "110105199003071239", "13012345678"] {
        assert!(!text.contains(secret), "{text}");
    }
    let err = respond(502, html).unwrap_err();
    assert!(
        std::error::Error::source(&err).is_some(),
        "keeps the serde_json source"
    );
}

#[test]
fn empty_body() {
    assert_eq!(decode_problem(respond(200, "")).1, DecodeProblem::EmptyBody);
    assert_eq!(
        decode_problem(respond(200, " \n")).1,
        DecodeProblem::EmptyBody
    );
}

#[test]
fn truncated_body() {
    let full = r#"{"reason":"成功","result":{"res":1,"orderid":"JH329201808081618556756"},"error_code":0}"#;
    for cut in 1..full.len() {
        if !full.is_char_boundary(cut) {
            continue;
        }
        let result = respond(200, &full[..cut]);
        assert!(
            matches!(result, Err(ResponseError::Decode(_))),
            "cut at {cut}: {result:?}"
        );
    }
}

#[test]
fn missing_pieces() {
    assert_eq!(
        decode_problem(respond(200, r#"{"reason":"x"}"#)).1,
        DecodeProblem::MissingField("error_code")
    );
    assert_eq!(
        decode_problem(respond(200, r#"{"error_code":0,"result":null}"#)).1,
        DecodeProblem::MissingField("result")
    );
    assert_eq!(
        decode_problem(respond(200, r#"{"error_code":0,"result":{"res":1}}"#)).1,
        DecodeProblem::MissingField("result.orderid")
    );
    assert_eq!(
        decode_problem(respond(200, "[1,2]")).1,
        DecodeProblem::NotJson
    );
}

#[test]
fn long_bodies_are_reported_by_length() {
    let body = "错".repeat(500);
    let (_, _, len) = decode_problem(respond(500, &body));
    assert_eq!(len, 1500);
    let text = respond(500, &body).unwrap_err().to_string();
    assert!(!text.contains('错') && text.len() < 200, "{text}");
}

const KEY: &str = "K3y&=+s3cr3t";
const ID: &str = "110105199003071239";
const MOBILE: &str = "13012345678";

/// Everything an error shows: `Display`, `Debug`, and the same for each source.
fn everything_shown(e: &ResponseError) -> String {
    let mut text = format!("{e} {e:?}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(" {s} {s:?}"));
        source = s.source();
    }
    text
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [KEY, "K3y%26%3D%2Bs3cr3t", ID, MOBILE, "SECRET"] {
        assert!(!text.contains(secret), "{what} shows {secret}: {text}");
    }
}

fn respond_with_secrets(body: &str) -> Result<Answer, ResponseError> {
    let response = http::Response::new(body.as_bytes().to_vec());
    parse_response_redacting(&response, &[KEY, ID, MOBILE])
}

/// A middlebox answering in the vendor's own shape, echoing the request into `reason`: the
/// reason keeps its text, never the key (raw or encoded) or a number.
#[test]
fn an_echoed_reason_is_masked() {
    let echoes = [
        format!("echo key={KEY}&idcard={ID}&mobile={MOBILE}"),
        "echo key=K3y%26%3D%2Bs3cr3t&idcard=110105199003071239".to_owned(),
        "echo key=K3y%26%3d%2bs3cr3t mobile=+86 13012345678".to_owned(),
    ];
    for echo in echoes {
        let body = serde_json::json!({"reason": echo, "error_code": 232904, "result": null});
        match respond_with_secrets(&body.to_string()) {
            Err(e @ ResponseError::Api { .. }) => {
                let ResponseError::Api { code, reason } = &e else {
                    unreachable!()
                };
                assert_eq!(*code, ErrorCode::NoRecord);
                assert!(reason.starts_with("echo key="), "{reason}");
                assert_no_secret("reason", &everything_shown(&e));
            }
            other => panic!("{other:?}"),
        }
    }
    // Without the secrets, numbers are still masked; the reason is cut short.
    let long = format!("{MOBILE} {}", "x".repeat(1000));
    let body = serde_json::json!({"reason": long, "error_code": 10001, "result": null});
    match respond(200, &body.to_string()) {
        Err(ResponseError::Api { reason, .. }) => {
            assert!(reason.starts_with("*********** x"), "{reason}");
            assert_eq!(reason.chars().count(), 200);
        }
        other => panic!("{other:?}"),
    }
}

/// An order id that is an echo, or not shaped like one, is a decode error (a 200: maybe
/// billed), never an answer to store.
#[test]
fn an_order_id_that_is_not_one_is_a_decode_error() {
    for orderid in [
        serde_json::json!(format!("key={KEY}&idcard={ID}")),
        serde_json::json!("JH 123"),
        serde_json::json!("JH=1"),
        serde_json::json!("J".repeat(33)),
        serde_json::json!(MOBILE),
        serde_json::json!(13012345678_u64),
        serde_json::json!(ID),
        serde_json::json!("11010519491231002X"),
        serde_json::json!("K3YS3CR3TPART"),
    ] {
        let body = serde_json::json!({"reason": "成功", "error_code": 0,
            "result": {"res": 1, "orderid": orderid}});
        let response = http::Response::new(body.to_string().into_bytes());
        let result = parse_response_redacting(&response, &[KEY, "k3ys3cr3t"]);
        let (status, problem, _) = decode_problem(result);
        assert_eq!(
            (status, problem),
            (200, DecodeProblem::InvalidOrderId),
            "{orderid}"
        );
    }
    for good in ["JH329201808081618556756", "JH1", "12345"] {
        let body = format!(r#"{{"error_code":0,"result":{{"res":2,"orderid":"{good}"}}}}"#);
        assert_eq!(respond(200, &body).unwrap().order_id, good);
    }
}

/// No value of the response reaches an error's `Display`, `Debug` or source: not an unknown
/// `res`, not the value serde_json quotes when a field has the wrong type.
#[test]
fn errors_never_quote_response_values() {
    let bodies = [
        format!(r#"{{"error_code":0,"result":{{"res":"{MOBILE}","orderid":"JH1"}}}}"#),
        format!(r#"{{"error_code":0,"result":{{"res":{ID},"orderid":"JH1"}}}}"#),
        r#"{"error_code":0,"result":"SECRET"}"#.to_owned(),
        format!(r#"{{"error_code":0,"result":{{"res":1,"orderid":"JH1"}},"reason":{MOBILE}}}"#),
        format!(r#"{{"error_code":"{KEY}","result":null}}"#),
        format!(r#"{{"error_code":0,"result":{{"res":1,"orderid":["{ID}"]}}}}"#),
        format!(r#"{{"error_code":0,"result":{{"res":1,"orderid":"JH1","x":{MOBILE}}}"#),
    ];
    for body in bodies {
        let err = respond(200, &body).unwrap_err();
        assert!(matches!(err, ResponseError::Decode(_)), "{body}: {err:?}");
        assert_no_secret(&body, &everything_shown(&err));
        assert_no_secret(
            &body,
            &format!(
                "{:?}",
                std::panic::catch_unwind(|| { respond(200, &body).unwrap() })
                    .map(|_| ())
                    .map_err(|p| p.downcast_ref::<String>().cloned())
            ),
        );
    }
}
