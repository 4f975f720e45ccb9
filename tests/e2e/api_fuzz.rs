//! End-to-end: property-based fuzzing of the whole API from its own OpenAPI document with
//! schemathesis (`python3 -m schemathesis.cli`, installed by `.ci/run`), against the real binary:
//! no answer may be a 5xx, use a status the document does not declare, or break its documented
//! schema; no schema-valid request may be refused and no schema-invalid one accepted (exceptions,
//! each with its reason, in `schemathesis.toml`). A bounded number of examples per operation
//! keeps it under a minute.
//!
//! Generated bodies name arbitrary hosts and URLs (connection tests, webhook channels), so the
//! server and the fuzzer run in a network namespace of their own with nothing but loopback: no
//! generated request can reach, or even resolve, anything outside the machine.

use std::path::Path;
use std::process::Command;

/// Examples per operation and phase: enough to hit the declared bounds and types of every field
/// (the coverage phase adds the boundary values itself), few enough for CI.
const EXAMPLES_PER_OPERATION: &str = "25";

/// Operations that would take away the fuzzer's own credentials half-way (revoking its token,
/// deleting or changing its user): the isolation matrix and the tokens/users tests cover them.
const EXCLUDED: &[&str] = &[
    "DELETE /api/v1/tokens/{id}",
    "DELETE /api/v1/users/{login}",
    "DELETE /ds-api/users/{email}",
    "PATCH /api/v1/users/{login}",
    "PUT /ds-api/users/{email}",
];

/// Runs inside the namespace: brings loopback up, starts the server, mints an API token of the
/// bootstrap admin (the operator) and hands over to schemathesis with the arguments given.
const DRIVER: &str = r#"
set -eu
ip link set lo up
"$VIGIA" serve --config "$DIR/vigia.toml" > "$DIR/serve.out" 2>> "$DIR/vigia.log" &
SERVER=$!
trap 'kill $SERVER' EXIT
for _ in $(seq 1 600); do
  grep -q ' listening on ' "$DIR/serve.out" 2>/dev/null && break
  sleep 0.1
done
BASE=$(grep ' listening on ' "$DIR/serve.out" | sed 's/.* listening on //')
TOKEN=$(python3 - "$BASE" <<'PY'
import json, sys, urllib.request
def post(url, body, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = "Bearer " + token
    req = urllib.request.Request(url, json.dumps(body).encode(), headers)
    return json.load(urllib.request.urlopen(req))["token"]
base = sys.argv[1]
signed_in = post(base + "/api/v1/auth/token", {"username": "admin", "password": "fuzz-admin-password"})
print(post(base + "/api/v1/tokens", {"name": "fuzzer", "scopes": ["admin", "plugins:manage"]}, signed_in))
PY
)
python3 -m schemathesis.cli --config-file "$CONFIG" run "$BASE/api/v1/openapi.json" --url "$BASE" -H "Authorization: Bearer $TOKEN" "$@"
"#;

#[test]
fn the_api_keeps_its_openapi_contract_under_generated_requests() {
    let dir = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/schemathesis.toml");
    // Rate limits off: the fuzzer sends thousands of requests from one address.
    std::fs::write(
        dir.path().join("vigia.toml"),
        format!(
            "data_dir = {:?}\n[server]\nlisten = \"127.0.0.1:0\"\n[server.rate_limit]\nenabled = false\n\
             [plugins]\ndir = {:?}\n[log]\nlevel = \"warn\"\n",
            dir.path().join("data"),
            dir.path().join("plugins")
        ),
    )
    .unwrap();
    let mut run = Command::new("unshare");
    run.args(["--net", "--", "bash", "-c", DRIVER, "driver"])
        .args(["--max-examples", EXAMPLES_PER_OPERATION, "--phases", "examples,coverage,fuzzing"])
        .args(["--seed", "20261130", "--generation-database", "none", "--no-color", "--workers", "2"]);
    for operation in EXCLUDED {
        run.args(["--exclude-name", operation]);
    }
    let out = run
        .current_dir(dir.path())
        .env("VIGIA", crate::e2e_support::BIN)
        .env("VIGIA_ADMIN_PASSWORD", "fuzz-admin-password")
        .env("DIR", dir.path())
        .env("CONFIG", &config)
        .output()
        .expect("unshare (util-linux) runs");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let log = std::fs::read_to_string(dir.path().join("vigia.log")).unwrap_or_default();
    assert!(out.status.success(), "schemathesis found failures:\n{report}\nserver log:\n{log}");
    assert!(report.contains(" passed"), "schemathesis ran no operation:\n{report}");
    // Passing means little if the token stopped working: only the sign-in endpoints (which take
    // credentials in the body or Basic auth, not the token) may have answered nothing but 401/403.
    let refused = operations_only_refused(&report);
    assert!(
        refused.iter().all(|op| op.contains("/ds-api/user-token") || op.contains("/api/v1/auth/token")),
        "operations answered only 401/403 with the operator's token: {refused:?}\n{report}"
    );
}

/// The operations schemathesis lists under its "401 Unauthorized (n operations):" and
/// "403 Forbidden (n operations):" warnings.
fn operations_only_refused(report: &str) -> Vec<String> {
    let mut listed = Vec::new();
    let mut in_list = false;
    for line in report.lines() {
        if line.starts_with("401 Unauthorized (") || line.starts_with("403 Forbidden (") {
            in_list = true;
        } else if in_list {
            match line.trim().strip_prefix("- ") {
                Some(operation) => listed.push(operation.to_string()),
                None => in_list = false,
            }
        }
    }
    listed
}
