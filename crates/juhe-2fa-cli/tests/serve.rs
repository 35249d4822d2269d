//! `juhe-2fa serve`, the HTTP gateway, as a process in front of a sandbox process: every
//! status it gives, checked against its own OpenAPI document; callers, tokens and purposes;
//! per-caller rate and budget; metrics and the ledger against the sandbox's counts; secrets.

mod common;

use common::gateway::{
    Answer, callers_file, counter, gateway, get, pair_body, post, request, sandbox, sandbox_stats,
};
use common::pairs_from;
use serde_json::Value;

/// Every answer of the gateway, for the OpenAPI check: (method, route, answer).
type Seen = Vec<(&'static str, &'static str, Answer)>;

fn error_class(a: &Answer) -> String {
    a.json()["error"]["class"].as_str().unwrap_or("").to_owned()
}

/// The document's `$ref` resolved.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let path = r.trim_start_matches("#/");
            let target = path.split('/').fold(doc, |v, part| &v[part]);
            assert!(!target.is_null(), "unresolved $ref {r}");
            target
        }
        None => schema,
    }
}

/// Whether `value` fits `schema`: the types, required keys, enums and nested objects that the
/// document uses.
fn fits(doc: &Value, schema: &Value, value: &Value, at: &str) {
    let schema = resolve(doc, schema);
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !types.is_empty() {
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        assert!(
            types.contains(&actual),
            "{at}: {actual} is not {types:?}: {value}"
        );
    }
    if let Some(options) = schema["enum"].as_array() {
        assert!(options.contains(value), "{at}: {value} not in {options:?}");
    }
    if let Some(constant) = schema.get("const") {
        assert_eq!(constant, value, "{at}");
    }
    for key in schema["required"].as_array().into_iter().flatten() {
        let key = key.as_str().unwrap();
        assert!(
            value.get(key).is_some(),
            "{at}: no required {key:?} in {value}"
        );
    }
    if let Some(props) = schema["properties"].as_object() {
        for (key, sub) in props {
            if let Some(v) = value.get(key) {
                fits(doc, sub, v, &format!("{at}.{key}"));
            }
        }
        if schema["additionalProperties"] == Value::Bool(false) {
            for key in value.as_object().unwrap().keys() {
                assert!(props.contains_key(key), "{at}: undocumented {key:?}");
            }
        }
    }
}

/// The document is OpenAPI 3.1 in structure (version, info, paths with operations and
/// responses, every `$ref` resolving), and every answer seen is documented: its path and
/// method, its status, its content type, its body's required keys and types, its headers.
fn check_against_openapi(doc: &Value, seen: &Seen) {
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let paths = doc["paths"].as_object().unwrap();
    for (path, item) in paths {
        assert!(path.starts_with('/'), "{path}");
        for (method, op) in item.as_object().unwrap() {
            assert!(["get", "post"].contains(&method.as_str()), "{method}");
            let responses = op["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{path} {method}");
            for (status, response) in responses {
                assert!(status.parse::<u16>().is_ok(), "{status}");
                assert!(response["description"].is_string(), "{path} {status}");
            }
        }
    }
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"").skip(1) {
        let r = &r[..r.find('"').unwrap()];
        resolve(doc, &serde_json::json!({ "$ref": r }));
    }
    for (method, route, answer) in seen {
        let item = &doc["paths"][*route];
        let op = match &item[method.to_ascii_lowercase()] {
            // A method the path does not take: the 405 its operations document.
            Value::Null if answer.status == 405 => {
                item.as_object().unwrap().values().next().unwrap()
            }
            op => op,
        };
        assert!(op.is_object(), "{method} {route} is not documented");
        let status = answer.status.to_string();
        let documented = &op["responses"][&status];
        assert!(
            documented.is_object(),
            "{method} {route} answered {status}, not documented: {}",
            answer.body
        );
        let content = documented["content"].as_object().unwrap();
        let kind = answer.header("content-type").unwrap_or("");
        let (media, spec) = content
            .iter()
            .find(|(m, _)| kind.starts_with(m.as_str()))
            .unwrap_or_else(|| panic!("{method} {route} {status}: content type {kind}"));
        if media == "application/json" {
            fits(
                doc,
                &spec["schema"],
                &answer.json(),
                &format!("{route} {status}"),
            );
        }
        for (name, header) in documented["headers"].as_object().into_iter().flatten() {
            let value = answer.header(&name.to_ascii_lowercase());
            if header["required"] == Value::Bool(true) {
                let value = value.unwrap_or_else(|| panic!("{route} {status}: no {name}"));
                let n: u64 = value.parse().unwrap_or_else(|_| panic!("{name}: {value}"));
                assert!(n >= 1, "{name}: {value}");
            }
        }
    }
}

/// Every status the API gives, each answer checked against /openapi.json; a rejected number
/// sends nothing; the metrics equal the sandbox's counts; the ledger holds one record per
/// check with its caller; SIGTERM then exits 0.
#[test]
fn every_status_matches_the_openapi_document_and_the_counts_agree() {
    let dir = tempfile::tempdir().unwrap();
    let p = pairs_from("3201021985", "132", 6);
    let no_record = juhe_2fa::ErrorCode::NoRecord.code();
    let fixtures = dir.path().join("fixtures.csv");
    std::fs::write(
        &fixtures,
        format!(
            "idcard,mobile,outcome,fault\n{},{},match,\n{},{},mismatch,\n{},{},{no_record},\n{},{},match,http500\n{},{},match,drop\n",
            p[0].0, p[0].1, p[1].0, p[1].1, p[2].0, p[2].1, p[3].0, p[3].1, p[4].0, p[4].1
        ),
    )
    .unwrap();
    let sb = sandbox(&["--fixtures", fixtures.to_str().unwrap()]);
    let (kyc, quick, small) = ("kyc-token-1", "quick-token-2", "small-token-3");
    let config = callers_file(
        dir.path(),
        &[
            ("kyc", kyc, "purposes = [\"kyc\"]"),
            ("quick", quick, "qps = 1"),
            ("small", small, "budget = [\"1/day\"]"),
        ],
    );
    let ledger = dir.path().join("checks.ledger");
    let mut gw = gateway(
        &sb.url,
        &config,
        &["--retries", "0", "--ledger", ledger.to_str().unwrap()],
    );
    let url = gw.url.clone();
    let mut seen: Seen = Vec::new();
    // Checks that reached the engine past local validation: one ledger record each.
    let mut checks = 0;
    let verify = |token: Option<&str>, body: &str, seen: &mut Seen| {
        let answer = post(&url, "/v1/verify", token, body);
        seen.push(("POST", "/v1/verify", answer.clone()));
        answer
    };
    let kyc_body = |i: usize| pair_body(&p[i].0, &p[i].1, Some("kyc"));

    let a = verify(Some(kyc), &kyc_body(0), &mut seen);
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(
        (v["verdict"].as_str(), v["res"].as_i64()),
        (Some("match"), Some(1))
    );
    assert_eq!(
        (v["billed"].as_bool(), v["from_cache"].as_bool()),
        (Some(true), Some(false))
    );
    assert!(v["order_id"].as_str().unwrap().starts_with("JH"));
    let a = verify(Some(kyc), &kyc_body(1), &mut seen);
    assert_eq!(
        (a.status, a.json()["verdict"].as_str()),
        (200, Some("mismatch"))
    );
    checks += 2;

    // Refused locally: 400, nothing sent.
    let before = sandbox_stats(&sb.url)["requests"].as_u64().unwrap();
    let bad_digit = format!("{}X", &p[0].0[..17]);
    let a = verify(
        Some(kyc),
        &pair_body(&bad_digit, &p[0].1, Some("kyc")),
        &mut seen,
    );
    assert_eq!((a.status, error_class(&a)), (400, "rejected".into()));
    for body in [
        "{not json",
        "{\"idcard\": 1, \"mobile\": \"x\"}",
        "{\"idcard\":\"a\",\"mobile\":\"b\",\"id\":1}",
        "",
    ] {
        let a = verify(Some(kyc), body, &mut seen);
        assert_eq!(
            (a.status, error_class(&a)),
            (400, "invalid_request".into()),
            "{body}"
        );
    }
    assert_eq!(sandbox_stats(&sb.url)["requests"].as_u64().unwrap(), before);

    // No token, a wrong token, a purpose not allowed.
    for token in [None, Some("wrong"), Some("kyc-token-")] {
        let a = verify(token, &kyc_body(0), &mut seen);
        assert_eq!((a.status, error_class(&a)), (401, "unauthorized".into()));
        assert!(a.header("www-authenticate").unwrap().starts_with("Bearer"));
    }
    for purpose in [Some("marketing"), None] {
        let a = verify(Some(kyc), &pair_body(&p[0].0, &p[0].1, purpose), &mut seen);
        assert_eq!((a.status, error_class(&a)), (403, "forbidden".into()));
    }
    assert_eq!(sandbox_stats(&sb.url)["requests"].as_u64().unwrap(), before);

    // A caller's rate (1 a second) and budget (1 a day): 429 with Retry-After.
    let a = verify(Some(quick), &pair_body(&p[0].0, &p[0].1, None), &mut seen);
    assert_eq!(a.status, 200, "{}", a.body);
    let a = verify(Some(quick), &pair_body(&p[0].0, &p[0].1, None), &mut seen);
    assert_eq!(
        (a.status, error_class(&a)),
        (429, "budget".into()),
        "{}",
        a.body
    );
    let wait: u64 = a.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    assert_eq!(a.json()["error"]["retryable"], true);
    let a = verify(Some(small), &pair_body(&p[1].0, &p[1].1, None), &mut seen);
    assert_eq!(a.status, 200, "{}", a.body);
    let a = verify(Some(small), &pair_body(&p[0].0, &p[0].1, None), &mut seen);
    assert_eq!(a.status, 429, "{}", a.body);
    let wait: u64 = a.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&wait), "{wait}");
    checks += 4;

    // The vendor's error, an unbilled failure, a maybe-billed one.
    let a = verify(Some(kyc), &kyc_body(2), &mut seen);
    assert_eq!((a.status, error_class(&a)), (502, "api".into()));
    assert_eq!(
        a.json()["error"]["code"].as_i64(),
        Some(i64::from(no_record))
    );
    let a = verify(Some(kyc), &kyc_body(3), &mut seen);
    assert_eq!((a.status, error_class(&a)), (502, "unbilled".into()));
    let a = verify(Some(kyc), &kyc_body(4), &mut seen);
    assert_eq!((a.status, error_class(&a)), (504, "ambiguous".into()));
    assert_eq!(a.json()["error"]["retryable"], false);
    checks += 3;

    // JSON for everything else: unknown path, wrong method, a body over 4 KiB.
    let a = get(&url, "/nope");
    assert_eq!((a.status, error_class(&a)), (404, "not_found".into()));
    let a = request("DELETE", &url, "/v1/verify");
    assert_eq!(
        (a.status, error_class(&a)),
        (405, "method_not_allowed".into())
    );
    seen.push(("DELETE", "/v1/verify", a.clone()));
    let big = pair_body(&"1".repeat(5000), &p[0].1, Some("kyc"));
    let a = verify(Some(kyc), &big, &mut seen);
    assert_eq!((a.status, error_class(&a)), (413, "too_large".into()));

    // Free local validation, and the probes.
    let a = post(
        &url,
        "/v1/check",
        Some(kyc),
        &pair_body(&p[0].0, &p[0].1, None),
    );
    assert_eq!((a.status, a.json()["valid"].as_bool()), (200, Some(true)));
    assert_eq!(a.json()["carrier"], "unicom");
    seen.push(("POST", "/v1/check", a));
    let a = post(
        &url,
        "/v1/check",
        Some(kyc),
        &pair_body(&bad_digit, &p[0].1, None),
    );
    assert_eq!(a.status, 400);
    seen.push(("POST", "/v1/check", a));
    let a = post(&url, "/v1/check", None, &pair_body(&p[0].0, &p[0].1, None));
    assert_eq!(a.status, 401);
    seen.push(("POST", "/v1/check", a));
    for route in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let a = get(&url, route);
        assert_eq!(a.status, 200, "{route}");
        seen.push(("GET", route, a));
    }
    let doc = get(&url, "/openapi.json").json();
    check_against_openapi(&doc, &seen);

    // The metrics equal the sandbox's counts.
    let stats = sandbox_stats(&sb.url);
    let metrics = get(&url, "/metrics").body;
    // Billed: answered with a verdict (the dropped connection is billed "maybe").
    let billed = "juhe_billed_total{mode=\"plain\",billed=\"yes\"}";
    assert_eq!(counter(&metrics, billed), stats["billed"].as_f64().unwrap());
    let maybe = "juhe_billed_total{mode=\"plain\",billed=\"maybe\"}";
    assert_eq!(counter(&metrics, maybe), 1.0);
    assert_eq!(
        counter(&metrics, "juhe_attempts_total"),
        stats["requests"].as_f64().unwrap()
    );
    assert!(
        metrics.contains("juhe_gateway_checks_total{caller=\"quick\",outcome=\"budget\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("juhe_gateway_http_requests_total{route=\"/v1/verify\",status=\"401\"} 3"),
        "{metrics}"
    );
    assert!(!metrics.contains("/nope"));
    assert_eq!(stats["billed"].as_u64(), Some(4), "{stats}");

    // SIGTERM: exit 0, the ledger flushed: one record per check, each with its caller.
    gw.terminate();
    assert_eq!(gw.wait(30), 0, "{}", gw.output());
    let out = common::bin()
        .args([
            "--ledger",
            ledger.to_str().unwrap(),
            "ledger",
            "export",
            "--format",
            "jsonl",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), checks, "{records:?}");
    let by = |caller: &str| records.iter().filter(|r| r["caller"] == caller).count();
    assert_eq!((by("kyc"), by("quick"), by("small")), (5, 2, 2));
    assert!(
        records
            .iter()
            .filter(|r| r["caller"] == "kyc")
            .all(|r| r["purpose"] == "kyc")
    );
    let billed = records.iter().filter(|r| r["billed"] == "yes").count();
    assert_eq!(billed as u64, stats["billed"].as_u64().unwrap());
}

/// Hostile input of every kind gets a JSON answer with a status of the API's table: never a
/// panic, an HTML page or an empty body, and nothing is sent for any of it.
#[test]
fn malformed_requests_get_json_errors_and_send_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox(&[]);
    let token = "hostile-token";
    let config = callers_file(dir.path(), &[("ops", token, "")]);
    let gw = gateway(&sb.url, &config, &[]);
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let bodies = [
        String::new(),
        "null".into(),
        "[]".into(),
        "{}".into(),
        "\"text\"".into(),
        "{\"idcard\": null, \"mobile\": null}".into(),
        "{\"idcard\": [\"1\"], \"mobile\": {}}".into(),
        "{\"idcard\": \"1\", \"idcard\": \"2\", \"mobile\": \"3\"}".into(),
        "{\"idcard\": \"\\u0000\", \"mobile\": \"\\ud800\"}".into(),
        "{\"idcard\": \"110105199003071239\", \"mobile\": \"13012345678\", \"purpose\": 7}".into(),
        String::from_utf8_lossy(&[0xff, 0xfe, 0x00, 0x7b]).into_owned(),
        deep,
        "x".repeat(4096),
    ];
    for path in ["/v1/verify", "/v1/check"] {
        for body in &bodies {
            for auth in [Some(token), None] {
                let a = post(&gw.url, path, auth, body);
                let expected: &[u16] = if auth.is_some() {
                    &[400, 413]
                } else {
                    &[401, 413]
                };
                assert!(
                    expected.contains(&a.status),
                    "{path} {body:.40}: {} {}",
                    a.status,
                    a.body
                );
                assert!(a.json()["error"]["class"].is_string(), "{}", a.body);
                assert!(
                    a.header("content-type")
                        .unwrap()
                        .starts_with("application/json")
                );
            }
        }
    }
    for method in ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        for path in [
            "/v1/verify",
            "/",
            "/v1",
            "/v1/verify/x",
            "/%00",
            "/..%2f..%2fetc",
        ] {
            let a = request(method, &gw.url, path);
            assert!(
                [404, 405].contains(&a.status),
                "{method} {path}: {}",
                a.status
            );
            assert!(a.json()["error"]["class"].is_string());
        }
    }
    assert_eq!(sandbox_stats(&sb.url)["requests"].as_u64(), Some(0));
    assert_eq!(get(&gw.url, "/healthz").status, 200, "still serving");
}
