//! `IdCard` and `Mobile`: the SDK's validated numbers (juhe-proto's rules), masked wherever
//! they are printed; and `encrypt`, what a mode would send for a value.

use juhe_2fa::{Error, FieldEncryptor};
use pyo3::prelude::*;

use crate::errors::{config_with, to_py_err};

/// An 18-character resident ID card number, validated locally (GB 11643 check digit, a real
/// birth date, a known region): `IdCard("110105199003071239")`. Raises `RejectedError` (with
/// `field == "idcard"`) when invalid. `repr` and `str` are masked; `.number` is the number.
#[pyclass(frozen, module = "juhe_2fa", name = "IdCard")]
pub(crate) struct IdCard(juhe_2fa::IdCard);

#[pymethods]
impl IdCard {
    #[new]
    fn new(py: Python<'_>, number: &str) -> PyResult<IdCard> {
        juhe_2fa::IdCard::parse(number)
            .map(IdCard)
            .map_err(|e| to_py_err(py, &Error::from(e)))
    }

    /// The number, normalised (upper-case check character `X`). Not masked.
    #[getter]
    fn number(&self) -> &str {
        self.0.as_unmasked_str()
    }

    /// The number as it may be printed: `110105********1239`.
    #[getter]
    fn masked(&self) -> String {
        self.0.masked()
    }

    /// The birth date encoded in digits 7–14, as a `datetime.date`.
    #[getter]
    fn birth_date<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let date = self.0.birth_date();
        py.import("datetime")?.getattr("date")?.call1((
            date.year(),
            u8::from(date.month()),
            date.day(),
        ))
    }

    /// `"male"` or `"female"` (the 17th digit).
    #[getter]
    fn gender(&self) -> &'static str {
        match self.0.gender() {
            juhe_2fa::layers::proto::Gender::Male => "male",
            juhe_2fa::layers::proto::Gender::Female => "female",
        }
    }

    fn __repr__(&self) -> String {
        format!("IdCard('{}')", self.0.masked())
    }

    fn __str__(&self) -> String {
        self.0.masked()
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<IdCard>()
            .is_ok_and(|o| o.get().0.as_unmasked_str() == self.0.as_unmasked_str())
    }

    fn __hash__(&self) -> u64 {
        hash(self.0.as_unmasked_str())
    }
}

/// A mainland mobile number, validated locally (11 digits, a known segment; `+86` and
/// separators are accepted): `Mobile("13012345678")`. Raises `RejectedError` (with
/// `field == "mobile"`) when invalid. `repr` and `str` are masked.
#[pyclass(frozen, module = "juhe_2fa", name = "Mobile")]
pub(crate) struct Mobile(juhe_2fa::Mobile);

#[pymethods]
impl Mobile {
    #[new]
    fn new(py: Python<'_>, number: &str) -> PyResult<Mobile> {
        juhe_2fa::Mobile::parse(number)
            .map(Mobile)
            .map_err(|e| to_py_err(py, &Error::from(e)))
    }

    /// The 11 digits. Not masked.
    #[getter]
    fn number(&self) -> &str {
        self.0.as_unmasked_str()
    }

    /// The number as it may be printed: `130****5678`.
    #[getter]
    fn masked(&self) -> String {
        self.0.masked()
    }

    /// The carrier of the number's segment: `unicom`, `mobile`, `telecom`, `broadnet` or
    /// `unknown` (advice: numbers can be ported). Only China Unicom numbers can be checked.
    #[getter]
    fn carrier(&self) -> &'static str {
        self.0.carrier().as_str()
    }

    /// True for a China Unicom segment.
    #[getter]
    fn is_unicom(&self) -> bool {
        self.0.carrier().is_supported()
    }

    fn __repr__(&self) -> String {
        format!("Mobile('{}')", self.0.masked())
    }

    fn __str__(&self) -> String {
        self.0.masked()
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<Mobile>()
            .is_ok_and(|o| o.get().0.as_unmasked_str() == self.0.as_unmasked_str())
    }

    fn __hash__(&self) -> u64 {
        hash(self.0.as_unmasked_str())
    }
}

fn hash(text: &str) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// A number argument: a `str`, or an `IdCard` / `Mobile`.
pub(crate) fn number_text(value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(idcard) = value.cast::<IdCard>() {
        return Ok(idcard.get().0.as_unmasked_str().to_owned());
    }
    if let Ok(mobile) = value.cast::<Mobile>() {
        return Ok(mobile.get().0.as_unmasked_str().to_owned());
    }
    value.extract::<String>()
}

/// What the client would send for `value` in a mode: base64 ciphertext for `aes` (with
/// `openid` or `aes_key`) and `rsa` (with `rsa_public_key`: PEM, base64 DER or a file), the
/// value itself for `plain`. RSA-OAEP is randomised: each call gives another ciphertext.
#[pyfunction]
#[pyo3(signature = (value, *, mode = "aes", openid = None, aes_key = None, rsa_public_key = None))]
pub(crate) fn encrypt(
    py: Python<'_>,
    value: &Bound<'_, PyAny>,
    mode: &str,
    openid: Option<&str>,
    aes_key: Option<&str>,
    rsa_public_key: Option<&str>,
) -> PyResult<String> {
    let value = number_text(value)?;
    crate::options::mode(Some(mode), openid, aes_key, rsa_public_key)
        .and_then(|mode| mode.encryptor())
        .and_then(|encryptor| {
            encryptor
                .encrypt(&value)
                .map_err(|e| config_with("the value cannot be encrypted", e))
        })
        .map_err(|e| to_py_err(py, &e))
}
