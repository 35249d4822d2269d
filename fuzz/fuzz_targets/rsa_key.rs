//! RSA key text in any form: a typed error or a usable key, never a panic.
#![no_main]

use juhe_crypto::{FieldDecryptor, FieldEncryptor, RsaOaepDecryptor, RsaOaepEncryptor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(key) = RsaOaepEncryptor::from_public_key(&text) {
        assert!((1024..=4096).contains(&key.key_bits()));
        let _ = key.encrypt("13012345678");
    }
    if let Ok(key) = RsaOaepDecryptor::from_private_key(&text) {
        let _ = key.decrypt("AAAA");
    }
});
