//! `GET /openapi.json`: the API as an OpenAPI 3.1 document. The integration tests check it
//! against the real answers (every status the gateway gives is documented, and every body has
//! the documented required keys and types).

use serde_json::{Value, json};

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn json_response(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
    })
}

fn retry_after(description: &str) -> Value {
    let mut response = error_response(description);
    response["headers"] = json!({
        "Retry-After": {
            "description": "Seconds to wait before trying again (an integer, at least 1).",
            "required": true,
            "schema": { "type": "integer", "minimum": 1 }
        }
    });
    response
}

/// The answers every authenticated POST may give before its own.
fn common_post() -> Value {
    json!({
        "400": error_response("Invalid request: malformed JSON, a missing or unknown field (class invalid_request), or a number refused locally (class rejected); nothing was sent."),
        "401": error_response("Missing or unknown bearer token."),
        "403": error_response("This purpose is not allowed for this caller."),
        "405": error_response("Method not allowed."),
        "408": error_response("The request came too slowly."),
        "413": error_response("The body is larger than 4 KiB."),
    })
}

/// The document.
pub fn document() -> Value {
    let mut verify = common_post();
    for (status, response) in [
        (
            "200",
            json_response("Answered: billed unless from_cache.", "Verification"),
        ),
        (
            "429",
            retry_after(
                "The caller's rate or a spend budget (the caller's or the gateway's) is used up; nothing was sent.",
            ),
        ),
        (
            "502",
            error_response(
                "The vendor answered an error code (code), or the check failed surely unbilled.",
            ),
        ),
        (
            "503",
            error_response(
                "The gateway cannot check now (the ledger cannot record, the shared store refuses).",
            ),
        ),
        (
            "504",
            error_response(
                "The check may have been billed without an answer: never retried by the gateway; check before sending it again.",
            ),
        ),
    ] {
        verify[status] = response;
    }
    let mut check = common_post();
    // A purpose is checked only when a check is sent: /v1/check sends nothing.
    if let Some(responses) = check.as_object_mut() {
        responses.remove("403");
    }
    check["200"] = json_response("Both numbers are valid.", "CheckResult");
    let body = json!({
        "required": true,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CheckRequest" } } }
    });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "juhe-2fa gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Checks whether an ID card number owns a China Unicom mobile number (Juhe 二要素核验) through one gateway that holds the vendor key. See docs/gateway.md."
        },
        "security": [ { "bearer": [] } ],
        "paths": paths(verify, check, body),
        "components": components(),
    })
}

/// The operations.
fn paths(verify: Value, check: Value, body: Value) -> Value {
    json!({
        "/v1/verify": { "post": {
            "operationId": "verify",
            "summary": "Check one pair with the vendor (billed when answered).",
            "requestBody": body.clone(),
            "responses": verify
        }},
        "/v1/check": { "post": {
            "operationId": "check",
            "summary": "Validate one pair locally: free, nothing is sent.",
            "requestBody": body,
            "responses": check
        }},
        "/healthz": { "get": {
            "operationId": "healthz",
            "summary": "The process is alive.",
            "security": [],
            "responses": { "200": json_response("Alive.", "Status") }
        }},
        "/readyz": { "get": {
            "operationId": "readyz",
            "summary": "The configuration is valid and Redis and the ledger answer.",
            "security": [],
            "responses": {
                "200": json_response("Ready.", "Status"),
                "503": error_response("Not ready (class not_ready).")
            }
        }},
        "/metrics": { "get": {
            "operationId": "metrics",
            "summary": "Prometheus text (unless served on --metrics-addr).",
            "security": [],
            "responses": {
                "200": { "description": "Metrics.", "content": { "text/plain": { "schema": { "type": "string" } } } },
                "404": error_response("Served on --metrics-addr instead.")
            }
        }},
        "/openapi.json": { "get": {
            "operationId": "openapi",
            "summary": "This document.",
            "security": [],
            "responses": { "200": { "description": "OpenAPI 3.1.", "content": { "application/json": { "schema": { "type": "object" } } } } }
        }}
    })
}

/// The security scheme and the schemas.
fn components() -> Value {
    json!({
        "securitySchemes": {
            "bearer": { "type": "http", "scheme": "bearer", "description": "A caller's token (`juhe-2fa serve --new-token NAME`)." }
        },
        "schemas": {
            "CheckRequest": {
                "type": "object",
                "additionalProperties": false,
                "required": ["idcard", "mobile"],
                "properties": {
                    "idcard": { "type": "string", "description": "18-character ID card number." },
                    "mobile": { "type": "string", "description": "11-digit mobile number." },
                    "purpose": { "type": "string", "description": "Why the person is checked: recorded; must be one of the caller's purposes when it has a list." }
                }
            },
            "Verification": {
                "type": "object",
                "required": ["verdict", "res", "order_id", "billed", "from_cache"],
                "properties": {
                    "verdict": { "type": "string", "enum": ["match", "mismatch"] },
                    "res": { "type": "integer", "enum": [1, 2] },
                    "order_id": { "type": "string", "description": "The vendor's order id: the billing reference." },
                    "billed": { "type": "boolean" },
                    "from_cache": { "type": "boolean", "description": "Another caller's answer for the same pair (Redis de-duplication): not billed again." }
                }
            },
            "CheckResult": {
                "type": "object",
                "required": ["valid", "carrier", "supported"],
                "properties": {
                    "valid": { "type": "boolean", "const": true },
                    "carrier": { "type": "string", "enum": ["unicom", "mobile", "telecom", "broadnet", "unknown"] },
                    "supported": { "type": "boolean", "description": "A China Unicom segment (the only carrier the API answers for)." }
                }
            },
            "Status": {
                "type": "object",
                "required": ["status"],
                "properties": { "status": { "type": "string" } }
            },
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": { "error": {
                    "type": "object",
                    "required": ["class", "code", "message", "message_zh", "retryable"],
                    "properties": {
                        "class": { "type": "string", "description": "rejected, api, unbilled, ambiguous, config, budget, unauthorized, forbidden, invalid_request, not_found, method_not_allowed, too_large, timeout, not_ready" },
                        "code": { "type": ["integer", "null"], "description": "The vendor's error code (class api)." },
                        "message": { "type": "string", "description": "For the person being checked, in English: no number, no key." },
                        "message_zh": { "type": "string", "description": "The same in Chinese." },
                        "retryable": { "type": "boolean" }
                    }
                }}
            }
        }
    })
}
