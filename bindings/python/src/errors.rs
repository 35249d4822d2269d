//! The exceptions: one per [`ErrorClass`], under `JuheError`, carrying the SDK's messages for
//! people (`public_message`, `message_zh`), the operator's `hint` and the API's `code`.

use juhe_2fa::{Error, ErrorClass, Field};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyType;

create_exception!(
    juhe_2fa,
    JuheError,
    PyException,
    "Base of every juhe_2fa error. Attributes: `class_` (rejected, api, unbilled, ambiguous, \
     config, cancelled, budget), `code` (the API's error_code or None), `kind`, \
     `public_message` and `message_zh` (for the person being verified: no key, no digits), \
     `hint` (for the operator, or None), `field` (idcard, mobile or None), `retryable`, \
     `nothing_sent`. No message holds the API key or an unmasked number."
);
create_exception!(
    juhe_2fa,
    RejectedError,
    JuheError,
    "Refused locally (invalid number, non-Unicom mobile with the refuse policy): nothing was \
     sent. `field` names the input (`idcard` or `mobile`)."
);
create_exception!(
    juhe_2fa,
    ApiError,
    JuheError,
    "The API answered with a non-zero error_code (`code`): not billed."
);
create_exception!(
    juhe_2fa,
    UnbilledError,
    JuheError,
    "Certainly not billed: not sent, refused before processing, or the deadline passed."
);
create_exception!(
    juhe_2fa,
    AmbiguousError,
    JuheError,
    "May have been billed without an answer (a timeout after sending, a gateway error): check \
     the order before sending the pair again."
);
create_exception!(
    juhe_2fa,
    ConfigError,
    JuheError,
    "The configuration is wrong (key, base URL, key material, ledger): nothing was sent."
);
create_exception!(
    juhe_2fa,
    CancelledError,
    JuheError,
    "The check was cancelled before sending."
);
create_exception!(
    juhe_2fa,
    BudgetError,
    JuheError,
    "A spend budget is spent: refused before sending until it resets."
);

/// Adds the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("JuheError", py.get_type::<JuheError>())?;
    m.add("RejectedError", py.get_type::<RejectedError>())?;
    m.add("ApiError", py.get_type::<ApiError>())?;
    m.add("UnbilledError", py.get_type::<UnbilledError>())?;
    m.add("AmbiguousError", py.get_type::<AmbiguousError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("CancelledError", py.get_type::<CancelledError>())?;
    m.add("BudgetError", py.get_type::<BudgetError>())?;
    Ok(())
}

/// The exception class of an error class: one exhaustive match, so a new class of the SDK
/// fails to compile here until it has its exception.
fn exception_type(py: Python<'_>, class: ErrorClass) -> Bound<'_, PyType> {
    match class {
        ErrorClass::Rejected => py.get_type::<RejectedError>(),
        ErrorClass::Api(_) => py.get_type::<ApiError>(),
        ErrorClass::Unbilled => py.get_type::<UnbilledError>(),
        ErrorClass::Ambiguous => py.get_type::<AmbiguousError>(),
        ErrorClass::Config => py.get_type::<ConfigError>(),
        ErrorClass::Cancelled => py.get_type::<CancelledError>(),
        ErrorClass::Budget => py.get_type::<BudgetError>(),
    }
}

/// The developer's message: the error and its causes, as the command prints them. The SDK's
/// messages hold no key and no unmasked number, and neither do their sources.
pub(crate) fn detailed(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // `#[error(transparent)]` and wrappers that repeat their source: say it once.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The input an error is about, for `RejectedError.field`.
fn field(e: &Error) -> Option<&'static str> {
    match e {
        Error::InvalidInput(v) => Some(field_name(v.field())),
        Error::UnsupportedCarrier { .. } => Some("mobile"),
        _ => None,
    }
}

/// `idcard` or `mobile`: the API's parameter names.
pub(crate) fn field_name(field: Field) -> &'static str {
    match field {
        Field::IdCard => "idcard",
        Field::Mobile => "mobile",
    }
}

/// The Python exception for an SDK error.
pub(crate) fn to_py_err(py: Python<'_>, e: &Error) -> PyErr {
    match exception(py, e) {
        Ok(value) => PyErr::from_value(value),
        Err(failed) => failed,
    }
}

fn exception<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyAny>> {
    let class = e.class();
    let value = exception_type(py, class).call1((detailed(e),))?;
    value.setattr("class_", class.as_str())?;
    value.setattr("code", e.error_code().map(|c| c.code()))?;
    value.setattr("kind", e.kind_name())?;
    value.setattr("public_message", e.public_message())?;
    value.setattr("message_zh", e.message_zh())?;
    value.setattr("hint", e.hint())?;
    value.setattr("field", field(e))?;
    value.setattr("retryable", e.is_retryable())?;
    value.setattr("nothing_sent", e.nothing_sent())?;
    Ok(value)
}

/// A configuration problem found by this module (an option's value), as the SDK's
/// `Error::Config`, so it takes the same road to `ConfigError`.
pub(crate) fn config(problem: impl Into<String>) -> Error {
    Error::Config {
        problem: problem.into(),
        source: None,
    }
}

/// [`config`] with the underlying error kept as its source.
pub(crate) fn config_with(
    problem: impl Into<String>,
    source: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::Config {
        problem: problem.into(),
        source: Some(Box::new(source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_chained_once() {
        let e = config_with(
            "the RSA public key cannot be used",
            std::io::Error::other("not base64"),
        );
        assert_eq!(
            detailed(&e),
            "invalid configuration: the RSA public key cannot be used: not base64"
        );
        let invalid = Error::from(juhe_2fa::IdCard::parse("110105199003071238").unwrap_err());
        let text = detailed(&invalid);
        assert!(!text.contains("110105199003071238"), "{text}");
        assert_eq!(field(&invalid), Some("idcard"));
    }
}
