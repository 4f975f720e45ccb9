//! End-to-end: property-based fuzzing of the whole API from its own OpenAPI document with
//! schemathesis (installed by `.ci/run`), against the real binary: no answer may be a 5xx, use a
//! status the document does not declare, or break its documented schema; no schema-valid request
//! may be refused and no schema-invalid one accepted. A bounded number of examples per operation
//! keeps it to a few minutes.

use std::process::Command;

use serde_json::json;

use crate::e2e_support::Server;

/// Examples per operation and phase: enough to hit the declared bounds and types of every field
/// (the coverage phase adds the boundary values itself), few enough for CI.
const EXAMPLES_PER_OPERATION: &str = "25";

/// Operations that would take away the fuzzer's own credentials half-way (revoking its token,
/// deleting its user): the isolation matrix and the tokens/users tests cover them.
const EXCLUDED: &[&str] = &[
    "DELETE /api/v1/tokens/{id}",
    "DELETE /api/v1/users/{login}",
    "DELETE /ds-api/users/{email}",
    "PATCH /api/v1/users/{login}",
    "PUT /ds-api/users/{email}",
];

/// An API token of the bootstrap admin (the operator), so changing its password mid-run (which
/// revokes sign-in tokens) cannot end the run.
async fn operator_api_token(server: &Server) -> String {
    let sign_in = server.admin_token().await;
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/tokens", server.base))
        .bearer_auth(sign_in)
        .json(&json!({"name": "fuzzer", "expires_in_days": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"].as_str().unwrap_or_else(|| panic!("an API token: {r}")).to_string()
}

#[tokio::test]
async fn the_api_keeps_its_openapi_contract_under_generated_requests() {
    let dir = tempfile::tempdir().unwrap();
    // Rate limits off: the fuzzer sends thousands of requests from one address.
    let server = Server::start(dir.path(), "[server.rate_limit]\nenabled = false\n");
    let token = operator_api_token(&server).await;
    let mut st = Command::new("st");
    st.current_dir(dir.path())
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", server.base))
        .args(["--url", &server.base])
        .args(["--checks", "all"])
        .args(["--max-examples", EXAMPLES_PER_OPERATION])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--seed", "20261130", "--generation-database", "none", "--no-color", "--workers", "2"])
        .args(["--header", &format!("Authorization: Bearer {token}")]);
    for operation in EXCLUDED {
        st.args(["--exclude-name", operation]);
    }
    let out = st.output().expect("schemathesis (`st`) is installed: `python3 -m pip install schemathesis`");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{report}");
    assert!(out.status.success(), "schemathesis found failures:\n{report}");
    assert!(report.contains("passed"), "schemathesis ran no operation:\n{report}");
}
