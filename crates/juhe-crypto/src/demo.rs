//! The demo account of the sandbox (`juhe-sandbox`): its API key, OpenID and keys, defined
//! once here so tests of code that uses the SDK need not depend on the sandbox for them (feature
//! `demo`). These are public test values: never use them for anything real.

/// The API key a sandbox accepts when none is configured.
pub const API_KEY: &str = "sandbox-demo-key";

/// The demo account's OpenID. The demo AES endpoint uses the vendor's scheme with it: key =
/// first 16 characters of the lowercase hex MD5 of the OpenID, AES-128-ECB, PKCS#5, base64.
pub const OPENID: &str = "JHdemo0penid5andb0x0000000000001";

/// A literal AES-128 key (UTF-8, 16 bytes) for sandboxes configured with a key instead of an
/// OpenID.
pub const AES_KEY: &str = include_str!("../demo/aes_key.txt");

/// The demo RSA-2048 public key, PEM.
pub const RSA_PUBLIC_KEY_PEM: &str = include_str!("../demo/rsa_public.pem");

/// The demo RSA-2048 public key as one line of base64 DER (what a vendor console shows).
pub const RSA_PUBLIC_KEY_B64: &str = include_str!("../demo/rsa_public.b64");

/// The demo RSA-2048 private key, PEM (PKCS#8). The sandbox decrypts with it.
pub const RSA_PRIVATE_KEY_PEM: &str = include_str!("../demo/rsa_private.pem");

/// The files `juhe-2fa sandbox --export-demo-keys DIR` writes, with their contents.
pub const FILES: [(&str, &str); 5] = [
    ("rsa_public.pem", RSA_PUBLIC_KEY_PEM),
    ("rsa_public.b64", RSA_PUBLIC_KEY_B64),
    ("rsa_private.pem", RSA_PRIVATE_KEY_PEM),
    ("openid.txt", OPENID),
    ("aes_key.txt", AES_KEY),
];
