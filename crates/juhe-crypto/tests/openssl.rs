//! Interoperability with an independent implementation: the `openssl` command line.
//! Each test skips (with a message) when `openssl` is not installed.
#![allow(clippy::print_stderr)] // the SKIPPED notice is the point

use std::io::Write;
use std::process::{Command, Stdio};

use juhe_crypto::{
    AesConfig, AesDecryptor, AesEncryptor, AesMode, FieldDecryptor, FieldEncryptor, IvPolicy,
    RsaOaepDecryptor, RsaOaepEncryptor,
};

fn openssl(args: &[&str], input: &[u8]) -> Option<Vec<u8>> {
    let mut child = match Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(_) => {
            eprintln!("SKIPPED: openssl is not installed");
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out.stdout)
}

fn data(path: &str) -> String {
    format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn b64(bytes: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text).unwrap()
}

const OAEP_SHA1: [&str; 6] = [
    "-pkeyopt",
    "rsa_padding_mode:oaep",
    "-pkeyopt",
    "rsa_oaep_md:sha1",
    "-pkeyopt",
    "rsa_mgf1_md:sha1",
];

#[test]
fn openssl_decrypts_our_rsa_ciphertexts() {
    for bits in ["rsa1024", "rsa2048"] {
        let enc = RsaOaepEncryptor::from_public_key(
            &std::fs::read_to_string(data(&format!("{bits}/pub.b64"))).unwrap(),
        )
        .unwrap();
        for value in ["110101199003077777", "13800138000", "张三"] {
            let c = unb64(&enc.encrypt(value).unwrap());
            let key = data(&format!("{bits}/priv.pem"));
            let mut args = vec!["pkeyutl", "-decrypt", "-inkey", key.as_str()];
            args.extend(OAEP_SHA1);
            let Some(plain) = openssl(&args, &c) else {
                return;
            };
            assert_eq!(plain, value.as_bytes());
        }
    }
}

#[test]
fn we_decrypt_openssl_rsa_ciphertexts() {
    let key = data("rsa2048/pub.pem");
    let mut args = vec!["pkeyutl", "-encrypt", "-pubin", "-inkey", key.as_str()];
    args.extend(OAEP_SHA1);
    let Some(c) = openssl(&args, b"110101199003077777") else {
        return;
    };
    let dec = RsaOaepDecryptor::from_private_key(
        &std::fs::read_to_string(data("rsa2048/priv.pem")).unwrap(),
    )
    .unwrap();
    assert_eq!(dec.decrypt(&b64(&c)).unwrap(), "110101199003077777");
}

#[test]
fn aes_agrees_with_openssl_both_ways() {
    let key = "1234567890abcdef";
    let key_hex = hex::encode(key);
    let iv_hex = hex::encode("fedcba0987654321");
    let cases = [
        (
            AesMode::Cbc,
            IvPolicy::SameAsKey,
            vec!["-aes-128-cbc", "-K", &key_hex, "-iv", &key_hex],
        ),
        (
            AesMode::Cbc,
            "fixed:66656463626130393837363534333231".parse().unwrap(),
            vec!["-aes-128-cbc", "-K", &key_hex, "-iv", &iv_hex],
        ),
        (
            AesMode::Ecb,
            IvPolicy::SameAsKey,
            vec!["-aes-128-ecb", "-K", &key_hex],
        ),
    ];
    for (mode, iv, cipher_args) in cases {
        let config = AesConfig::new(key).unwrap().with_mode(mode).with_iv(iv);
        let ours = AesEncryptor::new(config.clone())
            .encrypt("110101199003077777")
            .unwrap();
        let mut args = vec!["enc", "-e"];
        args.extend(cipher_args.iter().map(|s| &**s));
        let Some(theirs) = openssl(&args, b"110101199003077777") else {
            return;
        };
        assert_eq!(ours, b64(&theirs), "{mode:?} {iv:?}");
        let mut args = vec!["enc", "-d"];
        args.extend(cipher_args.iter().map(|s| &**s));
        let back = openssl(&args, &unb64(&ours)).unwrap();
        assert_eq!(back, b"110101199003077777");
        assert_eq!(
            AesDecryptor::new(config).decrypt(&b64(&theirs)).unwrap(),
            "110101199003077777"
        );
    }
}

#[test]
fn aes_256_agrees_with_openssl() {
    let key = "0123456789abcdef0123456789abcdef";
    let config = AesConfig::new(key).unwrap().with_mode(AesMode::Cbc);
    let ours = AesEncryptor::new(config).encrypt("13800138000").unwrap();
    let key_hex = hex::encode(key);
    let iv_hex = hex::encode(&key[..16]);
    let Some(theirs) = openssl(
        &["enc", "-e", "-aes-256-cbc", "-K", &key_hex, "-iv", &iv_hex],
        b"13800138000",
    ) else {
        return;
    };
    assert_eq!(ours, b64(&theirs));
}
