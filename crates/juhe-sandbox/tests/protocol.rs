//! The sandbox driven by a plain HTTP client (ureq), not by our facade: every decision step,
//! every fault, the QPS limit and order-id uniqueness.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use juhe_crypto::{AesConfig, AesEncryptor, AesMode, FieldEncryptor, RsaOaepEncryptor};
use juhe_proto::Endpoint;
use juhe_sandbox::{
    BlockingSandbox, DefaultVerdict, Fault, FaultPlan, Fixtures, KeyStatus, Outcome, Sandbox, demo,
};
use serde_json::Value;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent()
}

fn form(key: &str, idcard: &str, mobile: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("key", key)
        .append_pair("idcard", idcard)
        .append_pair("mobile", mobile)
        .finish()
}

fn post(sb: &BlockingSandbox, endpoint: Endpoint, body: &str) -> (u16, String) {
    let mut resp = agent()
        .post(format!("{}{}", sb.base_url(), endpoint.path()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(body)
        .expect("request");
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap(),
    )
}

fn get(sb: &BlockingSandbox, endpoint: Endpoint, query: &str) -> (u16, String) {
    let mut resp = agent()
        .get(format!("{}{}?{query}", sb.base_url(), endpoint.path()))
        .call()
        .expect("request");
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap(),
    )
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn code_of(text: &str) -> i64 {
    json(text)["error_code"].as_i64().unwrap()
}

fn encrypt(endpoint: Endpoint, value: &str) -> String {
    match endpoint {
        Endpoint::Plain => value.to_owned(),
        Endpoint::Aes => AesEncryptor::new(AesConfig::from_openid(demo::OPENID).unwrap())
            .encrypt(value)
            .unwrap(),
        Endpoint::Rsa => RsaOaepEncryptor::from_public_key(demo::RSA_PUBLIC_KEY_B64)
            .unwrap()
            .encrypt(value)
            .unwrap(),
        other => panic!("no test encryption for {other}"),
    }
}

fn check(
    sb: &BlockingSandbox,
    endpoint: Endpoint,
    use_get: bool,
    key: &str,
    pair: (&str, &str),
) -> Value {
    let body = form(key, &encrypt(endpoint, pair.0), &encrypt(endpoint, pair.1));
    let (status, text) = if use_get {
        get(sb, endpoint, &body)
    } else {
        post(sb, endpoint, &body)
    };
    assert_eq!(status, 200, "{text}");
    json(&text)
}

#[test]
fn all_paths_and_methods_answer_match_and_mismatch() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    for endpoint in Endpoint::ALL {
        for use_get in [false, true] {
            let m = check(&sb, endpoint, use_get, demo::API_KEY, demo::MATCH);
            assert_eq!(m["error_code"], 0, "{endpoint} get={use_get}: {m}");
            assert_eq!(m["reason"], "成功");
            assert_eq!(m["result"]["res"], 1);
            assert!(m["result"]["orderid"].as_str().unwrap().starts_with("JH"));
            let mm = check(&sb, endpoint, use_get, demo::API_KEY, demo::MISMATCH);
            assert_eq!(mm["result"]["res"], 2, "{endpoint} get={use_get}: {mm}");
        }
    }
    let stats = sb.stats();
    assert_eq!(stats.requests, 12);
    assert_eq!(stats.billed, 12);
    assert_eq!(sb.pair_count(demo::MATCH.0, demo::MATCH.1).requests, 6);
    assert_eq!(
        sb.pair_count(demo::MATCH.0, &format!("+86 {}", demo::MATCH.1))
            .billed,
        6,
        "normalised"
    );
}

#[test]
fn unknown_paths_and_methods_and_content_types() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let mut resp = agent()
        .get(format!("{}/telecom2Cucc/nope", sb.base_url()))
        .call()
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(
        json(&resp.body_mut().read_to_string().unwrap())["error_code"],
        404
    );
    let mut resp = agent()
        .post(format!("{}{}", sb.base_url(), Endpoint::Plain.path()))
        .header("Content-Type", "application/json")
        .send("{}")
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert!(
        resp.body_mut()
            .read_to_string()
            .unwrap()
            .contains("x-www-form-urlencoded")
    );
    let resp = agent()
        .put(format!("{}{}", sb.base_url(), Endpoint::Plain.path()))
        .send("")
        .unwrap();
    assert_eq!(resp.status(), 405);
    // A charset parameter is fine.
    let mut resp = agent()
        .post(format!("{}{}", sb.base_url(), Endpoint::Plain.path()))
        .header(
            "Content-Type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        )
        .send(form(demo::API_KEY, demo::MATCH.0, demo::MATCH.1))
        .unwrap();
    assert_eq!(code_of(&resp.body_mut().read_to_string().unwrap()), 0);
    assert_eq!(sb.stats().requests, 4);
}

#[test]
fn key_checks() {
    let sb = Sandbox::builder()
        .key("good")
        .key_with_status("old", KeyStatus::Expired)
        .key_with_status("banned", KeyStatus::Disabled)
        .spawn_blocking()
        .unwrap();
    let code = |key: &str| {
        check(&sb, Endpoint::Plain, false, key, demo::MATCH)["error_code"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(code("good"), 0);
    assert_eq!(code(""), 10001);
    assert_eq!(code("wrong"), 10001);
    assert_eq!(
        code(demo::API_KEY),
        10001,
        "the demo key is off once keys are configured"
    );
    assert_eq!(code("old"), 10003);
    assert_eq!(code("banned"), 10009);
    let (_, text) = post(
        &sb,
        Endpoint::Plain,
        &format!("idcard={}&mobile={}", demo::MATCH.0, demo::MATCH.1),
    );
    assert_eq!(code_of(&text), 10001, "missing key");
    assert_eq!(json(&text)["reason"], "错误的请求KEY");
    assert!(json(&text)["result"].is_null());
}

#[test]
fn decryption_failures_are_field_errors() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    for endpoint in [Endpoint::Aes, Endpoint::Rsa] {
        let good_id = encrypt(endpoint, demo::MATCH.0);
        let good_mobile = encrypt(endpoint, demo::MATCH.1);
        let (_, t) = post(
            &sb,
            endpoint,
            &form(demo::API_KEY, &good_id, "bm90IGNpcGhlcnRleHQ="),
        );
        assert_eq!(code_of(&t), 232901, "{endpoint}");
        let (_, t) = post(
            &sb,
            endpoint,
            &form(demo::API_KEY, "bm90IGNpcGhlcnRleHQ=", &good_mobile),
        );
        assert_eq!(code_of(&t), 232902, "{endpoint}");
        // Plain text sent to an encrypted endpoint.
        let (_, t) = post(
            &sb,
            endpoint,
            &form(demo::API_KEY, demo::MATCH.0, demo::MATCH.1),
        );
        assert_eq!(code_of(&t), 232901, "{endpoint}");
    }
}

#[test]
fn an_unencoded_plus_is_rejected_as_a_form_decoder_would() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    // Find an RSA ciphertext of the ID number that contains '+', then send it unencoded.
    let (id_c, mobile_c) = loop {
        let c = encrypt(Endpoint::Rsa, demo::MATCH.0);
        if c.contains('+') {
            break (c, encrypt(Endpoint::Rsa, demo::MATCH.1));
        }
    };
    let encoded_mobile: String = form_urlencoded::byte_serialize(mobile_c.as_bytes()).collect();
    let raw = format!(
        "key={}&idcard={id_c}&mobile={encoded_mobile}",
        demo::API_KEY
    );
    let (_, t) = post(&sb, Endpoint::Rsa, &raw);
    assert_eq!(code_of(&t), 232902);
    let (_, t) = post(&sb, Endpoint::Rsa, &form(demo::API_KEY, &id_c, &mobile_c));
    assert_eq!(code_of(&t), 0, "properly encoded, it matches");
}

#[test]
fn validation_carrier_and_fixture_codes() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let code = |pair: (&str, &str)| {
        check(&sb, Endpoint::Plain, false, demo::API_KEY, pair)["error_code"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(code((demo::MATCH.0, "1301234567")), 232901);
    assert_eq!(code((demo::MATCH.0, "")), 232901);
    assert_eq!(code(("110105199003071230", demo::MATCH.1)), 232902);
    assert_eq!(code(("", demo::MATCH.1)), 232902);
    assert_eq!(code(demo::NON_UNICOM), 232903);
    assert_eq!(code(demo::NO_RECORD), 232904);
    assert_eq!(code(demo::NETWORK_ERROR), 232905);
    assert_eq!(code(demo::QUERY_FAILED), 232906);
    assert_eq!(code(demo::VENDOR_INVALID_MOBILE), 232901);
    assert_eq!(code(demo::VENDOR_INVALID_IDCARD), 232902);
    assert_eq!(
        code(("11010519491231002x", "+86 186 0000 0000")),
        232904,
        "unknown pair, normalised"
    );
    assert_eq!(sb.stats().billed, 0);
    let recent = sb.recent_requests();
    assert_eq!(recent.len(), 11);
    assert_eq!(recent[4].mobile.as_deref(), Some("138****8000"), "masked");
    assert_eq!(recent[5].idcard.as_deref(), Some("440305********7893"));
}

#[test]
fn default_verdicts() {
    let unknown = ("11010519491231002X", "18600000000");
    for (verdict, expected) in [
        (DefaultVerdict::NoRecord, Some(232904)),
        (DefaultVerdict::Match, Some(1)),
        (DefaultVerdict::Mismatch, Some(2)),
        (DefaultVerdict::Hash, None),
    ] {
        let sb = Sandbox::builder()
            .default_verdict(verdict)
            .spawn_blocking()
            .unwrap();
        let a = check(&sb, Endpoint::Plain, false, demo::API_KEY, unknown);
        match expected {
            Some(232904) => assert_eq!(a["error_code"], 232904),
            Some(res) => assert_eq!(a["result"]["res"], res),
            None => {
                let res = a["result"]["res"].as_i64().unwrap();
                assert!(res == 1 || res == 2);
                for _ in 0..3 {
                    assert_eq!(
                        check(&sb, Endpoint::Plain, false, demo::API_KEY, unknown)["result"]["res"],
                        res
                    );
                }
            }
        }
        // Fixtures still win over the default.
        assert_eq!(
            check(&sb, Endpoint::Plain, false, demo::API_KEY, demo::MISMATCH)["result"]["res"],
            2
        );
    }
}

#[test]
fn hash_verdicts_cover_both_answers() {
    let sb = Sandbox::builder()
        .default_verdict(DefaultVerdict::Hash)
        .spawn_blocking()
        .unwrap();
    let answers: HashSet<i64> = (0..20)
        .map(|i| {
            let mobile = format!("130000000{i:02}");
            check(
                &sb,
                Endpoint::Plain,
                false,
                demo::API_KEY,
                ("11010519491231002X", &mobile),
            )["result"]["res"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(answers, HashSet::from([1, 2]));
}

#[test]
fn order_ids_are_unique_over_10000_requests() {
    let sb = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let agent = agent();
    let url = format!("{}{}", sb.base_url(), Endpoint::Plain.path());
    let body = form(demo::API_KEY, demo::MATCH.0, demo::MATCH.1);
    let mut ids = HashSet::new();
    for _ in 0..10_000 {
        let mut resp = agent
            .post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(&body)
            .unwrap();
        let v = json(&resp.body_mut().read_to_string().unwrap());
        let id = v["result"]["orderid"].as_str().unwrap().to_owned();
        assert!(
            id.len() > 2 && id[2..].bytes().all(|b| b.is_ascii_digit()),
            "{id}"
        );
        assert!(ids.insert(id), "duplicate order id");
    }
    assert_eq!(ids.len(), 10_000);
    assert_eq!(sb.pair_count(demo::MATCH.0, demo::MATCH.1).billed, 10_000);
    assert_eq!(sb.pairs_billed_more_than_once(), 1);
}

#[test]
fn qps_limit_per_key() {
    let sb = Sandbox::builder()
        .key("a")
        .key("b")
        .qps_limit(Some(5))
        .spawn_blocking()
        .unwrap();
    let code = |key: &str| {
        check(&sb, Endpoint::Plain, false, key, demo::MATCH)["error_code"]
            .as_i64()
            .unwrap()
    };
    let start = Instant::now();
    let codes: Vec<i64> = (0..8).map(|_| code("a")).collect();
    if start.elapsed() < Duration::from_millis(900) {
        assert_eq!(codes, [0, 0, 0, 0, 0, 10012, 10012, 10012]);
        assert_eq!(code("b"), 0, "limits are per key");
    }
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(code("a"), 0, "the window slides");
    assert_eq!(
        sb.stats().by_error_code.get(&10012).copied().unwrap_or(0) as usize,
        codes.iter().filter(|c| **c == 10012).count()
    );
}

#[test]
fn every_fault() {
    let plan = FaultPlan::new()
        .then(Fault::DelayMs(300))
        .then(Fault::Http500)
        .then(Fault::Drop)
        .then(Fault::TruncatedJson)
        .then(Fault::ResAsString)
        .then(Fault::ErrorCode(juhe_proto::ErrorCode::InternalError))
        .then(Fault::None);
    let sb = Sandbox::builder().faults(plan).spawn_blocking().unwrap();
    let body = form(demo::API_KEY, demo::MATCH.0, demo::MATCH.1);

    let start = Instant::now();
    let (status, t) = post(&sb, Endpoint::Plain, &body);
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!((status, code_of(&t)), (200, 0));

    let (status, t) = post(&sb, Endpoint::Plain, &body);
    assert_eq!(status, 500);
    assert!(t.starts_with("<html>"));

    let dropped = agent()
        .post(format!("{}{}", sb.base_url(), Endpoint::Plain.path()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(&body);
    assert!(dropped.is_err(), "connection dropped: {dropped:?}");

    let (status, t) = post(&sb, Endpoint::Plain, &body);
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<Value>(&t).is_err(), "truncated: {t}");
    assert!(t.starts_with("{\""));

    let (_, t) = post(&sb, Endpoint::Plain, &body);
    assert_eq!(json(&t)["result"]["res"], "1");

    let (_, t) = post(&sb, Endpoint::Plain, &body);
    assert_eq!(code_of(&t), 10014);

    let (_, t) = post(&sb, Endpoint::Plain, &body);
    assert_eq!(json(&t)["result"]["res"], 1);

    let stats = sb.stats();
    assert_eq!(stats.requests, 7);
    assert_eq!(stats.faults, 5);
    assert_eq!(
        stats.billed, 4,
        "delay, truncated, res-as-string and the last one"
    );
    let faults: Vec<Option<Fault>> = sb.recent_requests().iter().map(|r| r.fault).collect();
    assert_eq!(faults[2], Some(Fault::Drop));
}

#[test]
fn fixture_faults_apply_to_their_pair() {
    let mut fixtures = Fixtures::new();
    fixtures
        .insert(
            juhe_sandbox::Fixture::new(demo::MATCH.0, demo::MATCH.1, Outcome::Match)
                .with_fault(Fault::Http500),
        )
        .unwrap();
    let sb = Sandbox::builder()
        .fixtures(fixtures)
        .spawn_blocking()
        .unwrap();
    for _ in 0..3 {
        let (status, _) = post(
            &sb,
            Endpoint::Plain,
            &form(demo::API_KEY, demo::MATCH.0, demo::MATCH.1),
        );
        assert_eq!(status, 500);
    }
    let (_, t) = post(
        &sb,
        Endpoint::Plain,
        &form(demo::API_KEY, demo::MISMATCH.0, demo::MISMATCH.1),
    );
    assert_eq!(
        code_of(&t),
        232904,
        "replaced fixtures: the demo pairs are gone"
    );
    assert_eq!(sb.pair_count(demo::MATCH.0, demo::MATCH.1).requests, 3);
}

#[test]
fn endpoints_without_keys_answer_no_permission() {
    let sb = Sandbox::builder()
        .aes(None)
        .rsa_private_key(None)
        .spawn_blocking()
        .unwrap();
    assert_eq!(
        check(&sb, Endpoint::Aes, false, demo::API_KEY, demo::MATCH)["error_code"],
        10002
    );
    assert_eq!(
        check(&sb, Endpoint::Rsa, false, demo::API_KEY, demo::MATCH)["error_code"],
        10002
    );
    assert_eq!(
        check(&sb, Endpoint::Plain, false, demo::API_KEY, demo::MATCH)["error_code"],
        0
    );
}

#[test]
fn cbc_sandbox_accepts_cbc_ciphertexts() {
    let config = AesConfig::new(demo::AES_KEY)
        .unwrap()
        .with_mode(AesMode::Cbc);
    let sb = Sandbox::builder()
        .aes(Some(config.clone()))
        .spawn_blocking()
        .unwrap();
    let enc = AesEncryptor::new(config);
    let body = form(
        demo::API_KEY,
        &enc.encrypt(demo::MATCH.0).unwrap(),
        &enc.encrypt(demo::MATCH.1).unwrap(),
    );
    assert_eq!(json(&post(&sb, Endpoint::Aes, &body).1)["result"]["res"], 1);
}

#[test]
fn server_survives_garbage_and_shuts_down() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    for garbage in [
        &b"\x00\x01\x02\r\n\r\n"[..],
        b"GET / HTTP/9.9\r\n\r\n",
        b"POST /telecom2Cucc/query HTTP/1.1\r\nContent-Length: 99999999\r\n\r\nkey=",
    ] {
        let mut s = TcpStream::connect(sb.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(garbage).unwrap();
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
    }
    assert_eq!(
        check(&sb, Endpoint::Plain, false, demo::API_KEY, demo::MATCH)["error_code"],
        0
    );
    let addr = sb.addr();
    sb.shutdown();
    assert!(TcpStream::connect(addr).is_err(), "no longer listening");
}

mod raw_bytes {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Arbitrary bytes on the socket never take the server down.
        #[test]
        fn arbitrary_bytes_never_crash_the_server(bytes in prop::collection::vec(any::<u8>(), 0..512), prefix in any::<bool>()) {
            let sb = shared();
            let mut s = TcpStream::connect(sb.addr()).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            if prefix {
                s.write_all(b"POST /telecom2Cucc/query HTTP/1.1\r\nHost: x\r\n").unwrap();
            }
            let _ = s.write_all(&bytes);
            let _ = s.shutdown(std::net::Shutdown::Write);
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            prop_assert_eq!(check(sb, Endpoint::Plain, false, demo::API_KEY, demo::MATCH)["error_code"].as_i64(), Some(0));
        }
    }

    fn shared() -> &'static BlockingSandbox {
        static SANDBOX: std::sync::OnceLock<BlockingSandbox> = std::sync::OnceLock::new();
        SANDBOX.get_or_init(|| Sandbox::builder().spawn_blocking().unwrap())
    }
}

fn unix_ms() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    u64::try_from(since.as_millis()).unwrap()
}

/// Every record carries its arrival time in Unix milliseconds (`at_ms`), in the Rust API and
/// in `/__sandbox/stats`, next to the fields it always had: a combined request rate can be
/// checked from the sandbox.
#[test]
fn records_carry_their_arrival_time_in_unix_ms() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let before = unix_ms();
    check(&sb, Endpoint::Plain, false, demo::API_KEY, demo::MATCH);
    std::thread::sleep(Duration::from_millis(50));
    let _ = agent()
        .get(format!("{}/nowhere", sb.base_url()))
        .call()
        .unwrap();
    let after = unix_ms();

    let records = sb.recent_requests();
    assert_eq!(records.len(), 2);
    for r in &records {
        assert!(
            (before..=after).contains(&r.at_ms),
            "{r:?} not in {before}..={after}"
        );
    }
    assert!(
        records[1].at_ms >= records[0].at_ms + 50,
        "{} then {}",
        records[0].at_ms,
        records[1].at_ms
    );

    let mut resp = agent()
        .get(format!("{}/__sandbox/stats", sb.base_url()))
        .call()
        .unwrap();
    let stats = json(&resp.body_mut().read_to_string().unwrap());
    let recent = stats["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 2);
    for (json, record) in recent.iter().zip(&records) {
        assert_eq!(json["at_ms"].as_u64(), Some(record.at_ms));
        let mut fields: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        fields.sort();
        assert_eq!(
            fields,
            [
                "at_ms",
                "billed",
                "endpoint",
                "error_code",
                "fault",
                "idcard",
                "method",
                "mobile",
                "order_id",
                "res",
                "seq"
            ]
        );
    }
}
