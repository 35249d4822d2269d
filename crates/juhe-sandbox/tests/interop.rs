//! Ciphertexts made by OpenSSL (an independent implementation) are accepted. Each test skips
//! with a message when `openssl` is absent.
#![allow(clippy::print_stderr)] // the SKIPPED notice is the point

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use juhe_crypto::{AesConfig, AesMode};
use juhe_proto::Endpoint;
use juhe_sandbox::{BlockingSandbox, Sandbox, demo};

fn openssl(args: &[&str], input: &[u8]) -> Option<String> {
    let Ok(mut child) = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("SKIPPED: openssl is not installed");
        return None;
    };
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        out.stdout,
    ))
}

fn ask(sb: &BlockingSandbox, endpoint: Endpoint, idcard: &str, mobile: &str) -> serde_json::Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent();
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("key", demo::API_KEY)
        .append_pair("idcard", idcard)
        .append_pair("mobile", mobile)
        .finish();
    let text = agent
        .post(format!("{}{}", sb.base_url(), endpoint.path()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(body)
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn openssl_vendor_scheme_from_the_openid() {
    // The key as the vendor derives it, computed by OpenSSL: MD5 hex of the OpenID, first 16
    // characters, used as text.
    let Some(md5) = openssl(&["dgst", "-md5", "-hex", "-r"], demo::OPENID.as_bytes()) else {
        return;
    };
    let md5 = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, md5).unwrap();
    let derived = &String::from_utf8(md5).unwrap()[..16];
    let key_hex = hex(derived.as_bytes());
    let ecb = ["enc", "-e", "-aes-128-ecb", "-K", &key_hex];
    let id = openssl(&ecb, demo::MATCH.0.as_bytes()).unwrap();
    let mobile = openssl(&ecb, demo::MATCH.1.as_bytes()).unwrap();
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    assert_eq!(ask(&sb, Endpoint::Aes, &id, &mobile)["result"]["res"], 1);
}

#[test]
fn openssl_aes_cbc_and_ecb() {
    let key_hex = hex(demo::AES_KEY.as_bytes());
    let cbc = ["enc", "-e", "-aes-128-cbc", "-K", &key_hex, "-iv", &key_hex];
    let Some(id) = openssl(&cbc, demo::MATCH.0.as_bytes()) else {
        return;
    };
    let mobile = openssl(&cbc, demo::MATCH.1.as_bytes()).unwrap();
    let config = AesConfig::new(demo::AES_KEY)
        .unwrap()
        .with_mode(AesMode::Cbc);
    let sb = Sandbox::builder()
        .aes(Some(config))
        .spawn_blocking()
        .unwrap();
    assert_eq!(ask(&sb, Endpoint::Aes, &id, &mobile)["result"]["res"], 1);

    let ecb = ["enc", "-e", "-aes-128-ecb", "-K", &key_hex];
    let id = openssl(&ecb, demo::MATCH.0.as_bytes()).unwrap();
    let mobile = openssl(&ecb, demo::MATCH.1.as_bytes()).unwrap();
    let config = AesConfig::new(demo::AES_KEY)
        .unwrap()
        .with_mode(AesMode::Ecb);
    let sb = Sandbox::builder()
        .aes(Some(config))
        .spawn_blocking()
        .unwrap();
    assert_eq!(ask(&sb, Endpoint::Aes, &id, &mobile)["result"]["res"], 1);
}

#[test]
fn openssl_rsa_oaep_sha1() {
    let key = format!(
        "{}/../juhe-crypto/demo/rsa_public.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let args = [
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-inkey",
        &key,
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha1",
        "-pkeyopt",
        "rsa_mgf1_md:sha1",
    ];
    let Some(id) = openssl(&args, demo::MISMATCH.0.as_bytes()) else {
        return;
    };
    let mobile = openssl(&args, demo::MISMATCH.1.as_bytes()).unwrap();
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    assert_eq!(ask(&sb, Endpoint::Rsa, &id, &mobile)["result"]["res"], 2);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
