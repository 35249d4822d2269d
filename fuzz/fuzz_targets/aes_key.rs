//! AES key text and OpenIDs: `AesConfig::new`/`from_openid` never panic, and a key that parses
//! round-trips a field in every mode.
#![no_main]

use juhe_crypto::{
    AesConfig, AesDecryptor, AesEncryptor, AesMode, FieldDecryptor, FieldEncryptor, IvPolicy,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let configs = [AesConfig::new(&text), AesConfig::from_openid(&text)];
    for config in configs.into_iter().flatten() {
        for (mode, iv) in [
            (AesMode::Ecb, IvPolicy::SameAsKey),
            (AesMode::Cbc, IvPolicy::SameAsKey),
            (AesMode::Cbc, IvPolicy::RandomPrefix),
        ] {
            let config = config.clone().with_mode(mode).with_iv(iv);
            let sent = AesEncryptor::new(config.clone())
                .encrypt("110105199003071239")
                .unwrap();
            assert_eq!(
                AesDecryptor::new(config.clone()).decrypt(&sent).unwrap(),
                "110105199003071239"
            );
            let _ = AesDecryptor::new(config).decrypt(&text);
        }
    }
    if let Ok(iv) = text.parse::<IvPolicy>() {
        let _ = format!("{iv:?}");
    }
});
