//! Completes the OpenAPI document from the endpoint table: the answers every route can give
//! because of what sits in front of its handler (authorization, tenancy, rate limits, body
//! limits) are declared here once, not repeated in ~100 `utoipa::path` attributes, so a client
//! generated from the document (or a fuzzer checking answers against it) knows every status a
//! route can return, and a new route gets them by being in the table.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{PartialSchema, ToSchema};

use super::endpoints::{access_for, Access};
use super::error::ErrorBody;
use super::rate_limit;

/// Adds to every operation the responses and security its endpoint-table entry implies, and
/// gives every error answer the `{"error": …}` body it really has.
pub fn complete(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.insert(ErrorBody::name().into_owned(), ErrorBody::schema());
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, operation) in operations(item) {
            let Some(access) = access_for(&method, path) else { continue };
            complete_operation(operation, path, access);
        }
    }
}

fn operations(item: &mut PathItem) -> Vec<(axum::http::Method, &mut Operation)> {
    use axum::http::Method;
    [
        (Method::GET, item.get.as_mut()),
        (Method::POST, item.post.as_mut()),
        (Method::PUT, item.put.as_mut()),
        (Method::PATCH, item.patch.as_mut()),
        (Method::DELETE, item.delete.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|o| (method, o)))
    .collect()
}

fn complete_operation(operation: &mut Operation, path: &str, access: Access) {
    let has_input = operation.request_body.is_some() || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let mut implied: Vec<(&str, &str)> = Vec::new();
    if has_input {
        implied.push(("400", "The request is invalid; the message names the field or limit"));
    }
    if access != Access::Public {
        implied.push(("401", "No token, or the token is invalid, expired or revoked"));
        if operation.security.is_none() {
            operation.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
        }
    }
    if matches!(access, Access::Scope(_)) {
        implied.push(("403", "The token lacks the scope this route needs"));
    }
    if path.contains('{') {
        implied.push(("404", "No such resource (another tenant's answers the same)"));
    }
    if operation.request_body.is_some() {
        implied.push(("413", "The body is larger than the server accepts"));
    }
    if !rate_limit::is_exempt(path) {
        implied.push(("429", "Rate limited or locked out; see Retry-After"));
    }
    let responses = &mut operation.responses.responses;
    for (status, description) in implied {
        responses.entry(status.to_string()).or_insert_with(|| RefOr::T(error_response(description)));
    }
    for (status, response) in responses.iter_mut() {
        if let (true, RefOr::T(response)) = (status.starts_with('4'), response) {
            if response.content.is_empty() {
                response.content.insert("application/json".into(), error_content());
            }
        }
    }
}

/// `schema` (an object) with `fields` required and no longer nullable: for a create body that
/// shares its type with the update, where every field is optional.
pub(super) fn requiring(mut schema: RefOr<Schema>, fields: &[&str]) -> RefOr<Schema> {
    if let RefOr::T(Schema::Object(object)) = &mut schema {
        for field in fields {
            if let Some(RefOr::T(Schema::Object(property))) = object.properties.get_mut(*field) {
                if let SchemaType::Array(types) = &property.schema_type {
                    let kept: Vec<Type> = types.iter().filter(|t| **t != Type::Null).cloned().collect();
                    property.schema_type = match kept.as_slice() {
                        [one] => SchemaType::Type(one.clone()),
                        _ => SchemaType::Array(kept),
                    };
                }
            }
            if !object.required.iter().any(|r| r == field) {
                object.required.push((*field).to_string());
            }
        }
    }
    schema
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new().description(description).content("application/json", error_content()).build()
}

fn error_content() -> Content {
    Content::new(Some(Ref::from_schema_name(ErrorBody::name())))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// The statuses an operation documents, from the finished document.
    fn statuses(doc: &Value, method: &str, path: &str) -> Vec<String> {
        doc["paths"][path][method]["responses"].as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn protected_routes_declare_what_their_guards_answer() {
        let doc = serde_json::to_value(crate::api::openapi()).unwrap();
        let scoped = statuses(&doc, "delete", "/api/v1/users/{login}");
        for status in ["401", "403", "404", "429"] {
            assert!(scoped.contains(&status.to_string()), "{status} missing: {scoped:?}");
        }
        let own = statuses(&doc, "get", "/api/v1/tokens");
        assert!(own.contains(&"401".into()) && !own.contains(&"403".into()) && !own.contains(&"404".into()), "{own:?}");
        let probe = statuses(&doc, "get", "/health/live");
        assert!(!probe.iter().any(|s| s.starts_with('4')), "{probe:?}");
        assert_eq!(doc["paths"]["/api/v1/users"]["get"]["security"][0]["bearer"], serde_json::json!([]));
        let error = &doc["paths"]["/api/v1/users/{login}"]["delete"]["responses"]["404"]["content"]["application/json"];
        assert_eq!(error["schema"]["$ref"], "#/components/schemas/ErrorBody");
        assert_eq!(doc["components"]["schemas"]["ErrorBody"]["required"], serde_json::json!(["error"]));
    }
}
