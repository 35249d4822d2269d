//! Java JCE decrypts what we encrypt (the vendor's server is a Java service). Skips with a
//! message when no `java` (JDK 11+) is installed.
#![allow(clippy::print_stderr)] // the SKIPPED notice is the point

use std::process::Command;

use juhe_crypto::{AesConfig, AesEncryptor, AesMode, FieldEncryptor, RsaOaepEncryptor};

fn java(args: &[&str]) -> Option<String> {
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/java/JceDecrypt.java");
    let out = match Command::new("java").arg(source).args(args).output() {
        Ok(out) => out,
        Err(_) => {
            eprintln!("SKIPPED: java is not installed");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "java {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn java_decrypts_our_rsa_oaep_and_aes() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let rsa = RsaOaepEncryptor::from_public_key(include_str!("data/rsa2048/pub.b64")).unwrap();
    let value = "110101199003077777";
    let Some(plain) = java(&[
        "rsa",
        &format!("{data}/rsa2048/priv.b64"),
        &rsa.encrypt(value).unwrap(),
    ]) else {
        return;
    };
    assert_eq!(plain, value);

    let key = "1234567890abcdef";
    let cbc = AesEncryptor::new(AesConfig::new(key).unwrap().with_mode(AesMode::Cbc))
        .encrypt("张三 13800138000")
        .unwrap();
    assert_eq!(
        java(&["aes-cbc", key, key, &cbc]).unwrap(),
        "张三 13800138000"
    );
    let fixed = AesConfig::new(key)
        .unwrap()
        .with_mode(AesMode::Cbc)
        .with_iv("fixed:30313233343536373839616263646566".parse().unwrap());
    let fixed_c = AesEncryptor::new(fixed).encrypt(value).unwrap();
    assert_eq!(
        java(&["aes-cbc", key, "0123456789abcdef", &fixed_c]).unwrap(),
        value
    );
    let ecb = AesEncryptor::new(AesConfig::new(key).unwrap().with_mode(AesMode::Ecb))
        .encrypt(value)
        .unwrap();
    assert_eq!(java(&["aes-ecb", key, &ecb]).unwrap(), value);
}

#[test]
fn java_decrypts_the_vendor_scheme_with_aes_ecb_pkcs5() {
    // Every OpenID of the vector file, and a few made up here, through Java's
    // `AES/ECB/PKCS5Padding` with the key as Java's vendor sample derives it (first 16 hex
    // characters of MD5(openid), as UTF-8 bytes).
    let mut openids: Vec<String> = include_str!("data/openid.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').next().unwrap().to_owned())
        .collect();
    openids.dedup();
    assert_eq!(openids.len(), 4);
    openids.push(format!("JH{:032x}", 0x5eed_u128 * 0x9e37_79b9_7f4a_7c15));
    openids.push("开放平台-OpenID-示例".to_owned());
    for openid in &openids {
        let aes = AesEncryptor::new(AesConfig::from_openid(openid).unwrap());
        let values = ["13012345678", "110105199003071239", "张三"];
        let ciphertexts: Vec<String> = values.iter().map(|v| aes.encrypt(v).unwrap()).collect();
        let mut args = vec!["aes-openid", openid.as_str()];
        args.extend(ciphertexts.iter().map(String::as_str));
        let Some(plain) = java(&args) else {
            return;
        };
        assert_eq!(plain, values.join("\n"), "{openid}");
    }
}
