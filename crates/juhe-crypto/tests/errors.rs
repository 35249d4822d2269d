//! Every error case is typed, actionable, and free of key material; no input panics.

use juhe_crypto::{
    AesConfig, AesDecryptor, AesEncryptor, AesMode, CryptoError, FieldDecryptor, FieldEncryptor,
    IvPolicy, OutputEncoding, RsaOaepDecryptor, RsaOaepEncryptor,
};
use proptest::prelude::*;

const PUB_1024: &str = include_str!("data/rsa1024/pub.pem");
const PUB_2048_B64: &str = include_str!("data/rsa2048/pub.b64");
const PRIV_2048: &str = include_str!("data/rsa2048/priv.pem");
const PRIV_2048_B64: &str = include_str!("data/rsa2048/priv.b64");

#[test]
fn aes_key_errors() {
    assert!(matches!(
        AesConfig::new("short"),
        Err(CryptoError::AesKeyLength { found: 5 })
    ));
    assert!(matches!(
        AesConfig::new("hex:00zz"),
        Err(CryptoError::AesKeyEncoding { prefix: "hex" })
    ));
    assert!(matches!(
        AesConfig::new("base64:!!!"),
        Err(CryptoError::AesKeyEncoding { prefix: "base64" })
    ));
    assert!(matches!(
        AesConfig::new("hex:0001"),
        Err(CryptoError::AesKeyLength { found: 2 })
    ));
    assert!(AesConfig::new("base64:MTIzNDU2Nzg5MGFiY2RlZg==").is_ok());
    let e = AesConfig::new("secretsecret").unwrap_err();
    assert_eq!(
        e.to_string(),
        "AES key must be 16, 24 or 32 bytes (AES-128/192/256), got 12 bytes"
    );
    assert!(!format!("{e:?}").contains("secret"));
}

#[test]
fn option_parsing() {
    assert_eq!("CBC".parse::<AesMode>().unwrap(), AesMode::Cbc);
    assert_eq!("ecb".parse::<AesMode>().unwrap(), AesMode::Ecb);
    assert!(matches!(
        "gcm".parse::<AesMode>(),
        Err(CryptoError::UnknownOption { .. })
    ));
    assert_eq!(
        "same-as-key".parse::<IvPolicy>().unwrap(),
        IvPolicy::SameAsKey
    );
    assert_eq!("zero".parse::<IvPolicy>().unwrap(), IvPolicy::Zero);
    assert_eq!(
        "prefix".parse::<IvPolicy>().unwrap(),
        IvPolicy::RandomPrefix
    );
    assert_eq!(
        "fixed:000102030405060708090a0b0c0d0e0f"
            .parse::<IvPolicy>()
            .unwrap(),
        IvPolicy::Fixed(core::array::from_fn(|i| i as u8))
    );
    assert!(matches!(
        "fixed:0001".parse::<IvPolicy>(),
        Err(CryptoError::InvalidIv)
    ));
    assert!(matches!(
        "fixed:zz".parse::<IvPolicy>(),
        Err(CryptoError::InvalidIv)
    ));
    assert!(matches!(
        "random".parse::<IvPolicy>(),
        Err(CryptoError::UnknownOption { .. })
    ));
    assert_eq!(
        "hex".parse::<OutputEncoding>().unwrap(),
        OutputEncoding::Hex
    );
}

#[test]
fn hex_output() {
    let config = AesConfig::new("1234567890abcdef")
        .unwrap()
        .with_mode(AesMode::Ecb)
        .with_output(OutputEncoding::Hex);
    let c = AesEncryptor::new(config.clone())
        .encrypt("13800138000")
        .unwrap();
    assert_eq!(
        c,
        hex::encode(
            base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                "SWIv9s4D+TR4V5NKBdALRg=="
            )
            .unwrap()
        )
    );
    assert_eq!(
        AesDecryptor::new(config).decrypt(&c).unwrap(),
        "13800138000"
    );
}

#[test]
fn aes_decrypt_errors() {
    let dec = AesDecryptor::new(
        AesConfig::new("1234567890abcdef")
            .unwrap()
            .with_mode(AesMode::Cbc),
    );
    assert!(matches!(
        dec.decrypt("not base64!"),
        Err(CryptoError::CiphertextEncoding)
    ));
    // An unencoded `+` that a form decoder turned into a space is not base64.
    assert!(matches!(
        dec.decrypt(&"Pd/r3OSmdgE+Lpf5xEj92LXgJnWYtNWGDfxAhRovSDU=".replace('+', " ")),
        Err(CryptoError::CiphertextEncoding)
    ));
    assert!(matches!(
        dec.decrypt("AAAA"),
        Err(CryptoError::CiphertextLength { len: 3 })
    ));
    assert!(matches!(
        dec.decrypt(""),
        Err(CryptoError::CiphertextLength { len: 0 })
    ));
    let other = AesEncryptor::new(AesConfig::new("fedcba0987654321").unwrap())
        .encrypt("13800138000")
        .unwrap();
    assert!(matches!(
        dec.decrypt(&other),
        Err(CryptoError::Padding) | Err(CryptoError::NotUtf8(_))
    ));
    let prefix = AesDecryptor::new(
        AesConfig::new("1234567890abcdef")
            .unwrap()
            .with_mode(AesMode::Cbc)
            .with_iv(IvPolicy::RandomPrefix),
    );
    assert!(matches!(
        prefix.decrypt("AAAA"),
        Err(CryptoError::CiphertextLength { len: 3 })
    ));
}

#[test]
fn rsa_key_errors() {
    assert!(matches!(
        RsaOaepEncryptor::from_public_key("not a key: *"),
        Err(CryptoError::KeyNotBase64)
    ));
    assert!(matches!(
        RsaOaepEncryptor::from_public_key("AAAA"),
        Err(CryptoError::NotAnRsaKey { .. })
    ));
    assert!(matches!(
        RsaOaepEncryptor::from_public_key(""),
        Err(CryptoError::NotAnRsaKey { .. })
    ));
    assert!(matches!(
        RsaOaepEncryptor::from_public_key(PRIV_2048),
        Err(CryptoError::PrivateKeyGiven)
    ));
    assert!(matches!(
        RsaOaepEncryptor::from_public_key(PRIV_2048_B64),
        Err(CryptoError::PrivateKeyGiven)
    ));
    assert!(matches!(
        RsaOaepEncryptor::from_public_key(
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
        ),
        Err(CryptoError::NotAnRsaKey { .. })
    ));
    assert!(matches!(
        RsaOaepEncryptor::from_public_key(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        ),
        Err(CryptoError::NotAnRsaKey { .. })
    ));
    // A truncated key.
    assert!(matches!(
        RsaOaepEncryptor::from_public_key(&PUB_2048_B64[..200]),
        Err(CryptoError::NotAnRsaKey { .. }) | Err(CryptoError::KeyNotBase64)
    ));
    assert!(matches!(
        RsaOaepDecryptor::from_private_key(PUB_1024),
        Err(CryptoError::NotAnRsaKey {
            expected: "private",
            ..
        })
    ));
    let e = RsaOaepEncryptor::from_public_key(PRIV_2048).unwrap_err();
    assert!(
        !format!("{e} {e:?}").contains("MII"),
        "no key material in errors"
    );
}

#[test]
fn rsa_key_size_limits() {
    // 512-bit and 8192-bit SubjectPublicKeyInfo keys made with OpenSSL.
    let small = include_str!("data/rsa512_pub.pem");
    let large = include_str!("data/rsa8192_pub.pem");
    assert!(matches!(
        RsaOaepEncryptor::from_public_key(small),
        Err(CryptoError::RsaKeySize { bits: 512 })
    ));
    assert!(matches!(
        RsaOaepEncryptor::from_public_key(large),
        Err(CryptoError::RsaKeySize { bits: 8192 })
    ));
    let e = RsaOaepEncryptor::from_public_key(small).unwrap_err();
    assert_eq!(
        e.to_string(),
        "RSA key has 512 bits; only 1024 to 4096 bits are accepted"
    );
}

#[test]
fn rsa_4096_and_pkcs1_public_keys() {
    let pkcs1 = include_str!("data/rsa4096_pub_pkcs1.pem");
    let enc = RsaOaepEncryptor::from_public_key(pkcs1).unwrap();
    assert_eq!(enc.key_bits(), 4096);
    assert_eq!(enc.max_plaintext_len(), 470);
    assert!(enc.encrypt(&"x".repeat(470)).is_ok());
    assert!(matches!(
        enc.encrypt(&"x".repeat(471)),
        Err(CryptoError::PlaintextTooLong { len: 471, max: 470 })
    ));
}

#[test]
fn plaintext_too_long_is_an_error_not_a_panic() {
    let enc = RsaOaepEncryptor::from_public_key(PUB_1024).unwrap();
    assert_eq!(enc.max_plaintext_len(), 86);
    assert!(enc.encrypt(&"1".repeat(86)).is_ok());
    let e = enc.encrypt(&"1".repeat(87)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "plaintext has 87 bytes, but RSA-OAEP(SHA-1) with this key fits at most 86"
    );
}

#[test]
fn rsa_decrypt_errors() {
    let dec = RsaOaepDecryptor::from_private_key(PRIV_2048).unwrap();
    assert!(matches!(
        dec.decrypt("%%%"),
        Err(CryptoError::CiphertextEncoding)
    ));
    assert!(matches!(dec.decrypt("AAAA"), Err(CryptoError::Rsa(_))));
    let other = RsaOaepEncryptor::from_public_key(PUB_1024)
        .unwrap()
        .encrypt("x")
        .unwrap();
    assert!(matches!(dec.decrypt(&other), Err(CryptoError::Rsa(_))));
}

#[test]
fn debug_never_shows_key_material() {
    let config = AesConfig::new("SuperSecretKey!!").unwrap();
    let shown = format!(
        "{config:?} {:?} {:?}",
        AesEncryptor::new(config.clone()),
        AesDecryptor::new(config.clone())
    );
    assert!(!shown.contains("SuperSecret"), "{shown}");
    assert!(shown.contains("redacted"));
    // ECB has no IV, so none is shown; CBC shows its IV policy.
    assert!(!format!("{config:?}").contains("iv"), "{config:?}");
    let cbc = config.clone().with_mode(AesMode::Cbc);
    assert!(format!("{cbc:?}").contains("iv: SameAsKey"), "{cbc:?}");
    let hexkey = AesConfig::new("hex:5365637265745365637265745365637265745365").unwrap_err();
    assert!(!format!("{hexkey:?}").contains("5365"));
    let dec = RsaOaepDecryptor::from_private_key(PRIV_2048).unwrap();
    assert_eq!(format!("{dec:?}"), "RsaOaepDecryptor([redacted])");
    assert_eq!(
        format!("{:?}", dec.encryptor()),
        "RsaOaepEncryptor { bits: 2048, .. }"
    );
}

#[test]
fn encryptors_are_shared_across_threads() {
    let enc = std::sync::Arc::new(RsaOaepEncryptor::from_public_key(PUB_1024).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let enc = enc.clone();
            std::thread::spawn(move || enc.encrypt(&format!("1380013800{i}")).unwrap())
        })
        .collect();
    let dec = RsaOaepDecryptor::from_private_key(include_str!("data/rsa1024/priv.pem")).unwrap();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(
            dec.decrypt(&h.join().unwrap()).unwrap(),
            format!("1380013800{i}")
        );
    }
    let boxed: Box<dyn FieldEncryptor> = Box::new(AesEncryptor::new(
        AesConfig::new("1234567890abcdef").unwrap(),
    ));
    // The ECB row of the vector file (the default mode).
    assert_eq!(
        boxed.encrypt("13800138000").unwrap(),
        "SWIv9s4D+TR4V5NKBdALRg=="
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]




    #[test]
    fn aes_round_trips_any_text(plain in "\\PC{0,64}", key in "[ -~]{16}", ecb in any::<bool>(), prefix in any::<bool>()) {
        let mode = if ecb { AesMode::Ecb } else { AesMode::Cbc };
        let iv = if prefix { IvPolicy::RandomPrefix } else { IvPolicy::SameAsKey };
        let config = AesConfig::new(&key).unwrap().with_mode(mode).with_iv(iv);
        let c = AesEncryptor::new(config.clone()).encrypt(&plain).unwrap();
        prop_assert_eq!(AesDecryptor::new(config).decrypt(&c).unwrap(), plain);
    }

    #[test]
    fn arbitrary_ciphertexts_never_panic(text in "\\PC{0,64}") {
        let config = AesConfig::new("1234567890abcdef").unwrap().with_mode(AesMode::Cbc).with_iv(IvPolicy::RandomPrefix);
        let _ = AesDecryptor::new(config).decrypt(&text);
        let _ = RsaOaepDecryptor::from_private_key(PRIV_2048).unwrap().decrypt(&text);
    }
}
