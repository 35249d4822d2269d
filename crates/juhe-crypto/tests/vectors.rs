//! Known-answer tests with vectors made by Java 17 JCE and Python `cryptography`
//! (see tests/data/README.md).

use juhe_crypto::{
    AesConfig, AesDecryptor, AesEncryptor, AesMode, FieldDecryptor, FieldEncryptor, IvPolicy,
    RsaOaepDecryptor, RsaOaepEncryptor,
};

struct Row {
    kind: String,
    key: String,
    mode_iv: String,
    plaintext: String,
    ciphertext: String,
    producer: String,
}

fn rows() -> Vec<Row> {
    include_str!("data/vectors.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 6, "malformed row {l}");
            Row {
                kind: f[0].into(),
                key: f[1].into(),
                mode_iv: f[2].into(),
                plaintext: f[3].into(),
                ciphertext: f[4].into(),
                producer: f[5].into(),
            }
        })
        .collect()
}

fn aes_config(row: &Row) -> AesConfig {
    let base = AesConfig::new(&row.key).unwrap();
    if row.mode_iv == "ecb:-" {
        return base.with_mode(AesMode::Ecb);
    }
    let iv = row.mode_iv.strip_prefix("cbc:").expect("cbc or ecb");
    let iv: [u8; 16] = match iv.strip_prefix("hex:") {
        Some(h) => hex::decode(h).unwrap().try_into().unwrap(),
        None => iv.as_bytes().try_into().unwrap(),
    };
    base.with_mode(AesMode::Cbc).with_iv(IvPolicy::Fixed(iv))
}

#[test]
fn every_aes_row_is_reproduced_byte_for_byte() {
    let aes_rows: Vec<Row> = rows().into_iter().filter(|r| r.kind == "aes").collect();
    assert_eq!(aes_rows.len(), 12);
    for row in &aes_rows {
        let config = aes_config(row);
        let ours = AesEncryptor::new(config.clone())
            .encrypt(&row.plaintext)
            .unwrap();
        assert_eq!(
            ours, row.ciphertext,
            "{} {} {}",
            row.key, row.mode_iv, row.producer
        );
        let back = AesDecryptor::new(config).decrypt(&row.ciphertext).unwrap();
        assert_eq!(back, row.plaintext);
    }
}

#[test]
fn same_as_key_equals_the_java_row_with_iv_equal_to_key() {
    let row = rows()
        .into_iter()
        .find(|r| r.kind == "aes" && r.mode_iv == format!("cbc:{}", r.key))
        .unwrap();
    let cbc = AesConfig::new(&row.key).unwrap().with_mode(AesMode::Cbc);
    assert_eq!(cbc.iv_policy(), IvPolicy::SameAsKey, "CBC's default IV");
    let same_as_key = AesEncryptor::new(cbc);
    assert_eq!(same_as_key.encrypt(&row.plaintext).unwrap(), row.ciphertext);
}

#[test]
fn zero_policy_equals_the_java_all_zero_iv_row() {
    for row in rows()
        .into_iter()
        .filter(|r| r.mode_iv == "cbc:hex:00000000000000000000000000000000")
    {
        let zero = AesEncryptor::new(
            AesConfig::new(&row.key)
                .unwrap()
                .with_mode(AesMode::Cbc)
                .with_iv(IvPolicy::Zero),
        );
        assert_eq!(zero.encrypt(&row.plaintext).unwrap(), row.ciphertext);
    }
}

fn private_key(name: &str) -> &'static str {
    match name {
        "rsa1024" => include_str!("data/rsa1024/priv.pem"),
        "rsa2048" => include_str!("data/rsa2048/priv.pem"),
        other => panic!("no key {other}"),
    }
}

#[test]
fn every_rsa_row_decrypts_with_its_private_key() {
    let rsa_rows: Vec<Row> = rows().into_iter().filter(|r| r.kind == "rsa").collect();
    assert_eq!(rsa_rows.len(), 12);
    for row in &rsa_rows {
        let dec = RsaOaepDecryptor::from_private_key(private_key(&row.key)).unwrap();
        assert_eq!(
            dec.decrypt(&row.ciphertext).unwrap(),
            row.plaintext,
            "{} {}",
            row.key,
            row.producer
        );
    }
}

#[test]
fn all_key_forms_parse_to_the_same_key() {
    for name in ["rsa1024", "rsa2048"] {
        let dir = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).unwrap();
        let dec_pem = RsaOaepDecryptor::from_private_key(&read("priv.pem")).unwrap();
        let dec_b64 = RsaOaepDecryptor::from_private_key(&read("priv.b64")).unwrap();
        for public in [
            read("pub.pem"),
            read("pub.b64"),
            read("pub.b64").replace('A', "A\n "),
        ] {
            let enc = RsaOaepEncryptor::from_public_key(&public).unwrap();
            let c = enc.encrypt("110101199003077777").unwrap();
            assert_eq!(dec_pem.decrypt(&c).unwrap(), "110101199003077777");
            assert_eq!(dec_b64.decrypt(&c).unwrap(), "110101199003077777");
        }
    }
}

#[test]
fn pkcs1_private_keys_parse_too() {
    // `-----BEGIN RSA PRIVATE KEY-----`, converted with `openssl pkey -traditional`.
    let pkcs1 = include_str!("data/rsa1024/priv_pkcs1.pem");
    assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let dec = RsaOaepDecryptor::from_private_key(pkcs1).unwrap();
    for row in rows().into_iter().filter(|r| r.key == "rsa1024") {
        assert_eq!(dec.decrypt(&row.ciphertext).unwrap(), row.plaintext);
    }
}

#[test]
fn random_prefix_round_trips_and_differs_each_time() {
    let config = AesConfig::new("1234567890abcdef")
        .unwrap()
        .with_mode(AesMode::Cbc)
        .with_iv(IvPolicy::RandomPrefix);
    let enc = AesEncryptor::new(config.clone());
    let dec = AesDecryptor::new(config.clone());
    let a = enc.encrypt("110101199003077777").unwrap();
    let b = enc.encrypt("110101199003077777").unwrap();
    assert_ne!(a, b);
    assert_eq!(dec.decrypt(&a).unwrap(), "110101199003077777");
    assert_eq!(dec.decrypt(&b).unwrap(), "110101199003077777");
    // The IV is the first block: decrypting the rest with that IV as a fixed IV agrees.
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &a).unwrap();
    let fixed = AesConfig::new("1234567890abcdef")
        .unwrap()
        .with_mode(AesMode::Cbc)
        .with_iv(IvPolicy::Fixed(bytes[..16].try_into().unwrap()));
    let rest = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes[16..]);
    assert_eq!(
        AesDecryptor::new(fixed).decrypt(&rest).unwrap(),
        "110101199003077777"
    );
}

/// `openid, derived_key, plaintext, ciphertext_b64`: the vendor's scheme, made with Java JCE.
fn openid_rows() -> Vec<[String; 4]> {
    include_str!("data/openid.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<String> = l.split('\t').map(str::to_owned).collect();
            f.try_into().expect("four fields")
        })
        .collect()
}

#[test]
fn every_openid_row_is_reproduced_byte_for_byte() {
    let rows = openid_rows();
    assert_eq!(rows.len(), 20);
    for [openid, derived_key, plaintext, ciphertext] in &rows {
        let config = AesConfig::from_openid(openid).unwrap();
        assert_eq!(config.mode(), AesMode::Ecb);
        assert!(config.is_openid_derived());
        assert_eq!(config.key_bits(), 128);
        let ours = AesEncryptor::new(config.clone())
            .encrypt(plaintext)
            .unwrap();
        assert_eq!(&ours, ciphertext, "{openid} {plaintext}");
        // The derived key is the 16 hex characters as text, in the default (ECB) mode.
        let by_key = AesEncryptor::new(AesConfig::new(derived_key).unwrap());
        assert_eq!(&by_key.encrypt(plaintext).unwrap(), ciphertext);
        assert_eq!(
            &AesDecryptor::new(config).decrypt(ciphertext).unwrap(),
            plaintext
        );
    }
}

#[test]
fn openid_is_trimmed_and_never_printed() {
    let [openid, _, plaintext, ciphertext] = openid_rows().remove(0);
    let padded = AesConfig::from_openid(&format!("  {openid}\n")).unwrap();
    assert_eq!(
        &AesEncryptor::new(padded.clone())
            .encrypt(&plaintext)
            .unwrap(),
        &ciphertext
    );
    let debug = format!("{padded:?}");
    assert!(debug.contains("from OpenID"), "{debug}");
    assert!(!debug.contains(&openid[..8]), "{debug}");
    for empty in ["", "   ", "\t\n"] {
        let e = AesConfig::from_openid(empty).unwrap_err();
        assert!(matches!(e, juhe_crypto::CryptoError::EmptyOpenId), "{e:?}");
    }
}

#[test]
fn the_default_mode_is_the_vendors_ecb() {
    let config = AesConfig::new("1234567890abcdef").unwrap();
    assert_eq!(config.mode(), AesMode::Ecb);
    let row = rows()
        .into_iter()
        .find(|r| r.kind == "aes" && r.mode_iv == "ecb:-")
        .unwrap();
    let default = AesEncryptor::new(AesConfig::new(&row.key).unwrap());
    assert_eq!(default.encrypt(&row.plaintext).unwrap(), row.ciphertext);
}
