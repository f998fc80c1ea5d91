//! Endpoint name resolution: `Service.Method` (go-micro), `pkg.Service.Method` and
//! `pkg.Service/Method` (gRPC) all name a method; unknown and ambiguous names are errors
//! that carry the closest names, so the CLI can suggest them before any network I/O.

use super::{endpoint_name, Schema};
use prost_reflect::MethodDescriptor;

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("unknown endpoint `{name}`{}", crate::suggest::did_you_mean(.suggestions))]
    Unknown {
        name: String,
        suggestions: Vec<String>,
    },
    #[error("endpoint `{name}` is ambiguous; it could be {}", .candidates.join(", "))]
    Ambiguous {
        name: String,
        candidates: Vec<String>,
    },
}

impl Schema {
    /// Finds the method a user-given endpoint name refers to.
    pub fn resolve(&self, name: &str) -> Result<MethodDescriptor, ResolveError> {
        let wanted = name.trim_start_matches('/');
        let methods = self.methods();
        let matches: Vec<&MethodDescriptor> = methods
            .iter()
            .filter(|method| names_of(method).iter().any(|n| n == wanted))
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(ResolveError::Unknown {
                name: name.to_owned(),
                suggestions: closest(wanted, &methods),
            }),
            many => Err(ResolveError::Ambiguous {
                name: name.to_owned(),
                candidates: many
                    .iter()
                    .map(|method| method.full_name().to_owned())
                    .collect(),
            }),
        }
    }
}

/// Every spelling that names `method`.
fn names_of(method: &MethodDescriptor) -> [String; 3] {
    let service = method.parent_service().full_name();
    [
        endpoint_name(method),
        format!("{service}.{}", method.name()),
        format!("{service}/{}", method.name()),
    ]
}

/// Up to three endpoint names close to `wanted` (case-insensitive Jaro-Winkler).
fn closest(wanted: &str, methods: &[MethodDescriptor]) -> Vec<String> {
    let wanted = wanted.to_lowercase();
    let wanted_method = wanted
        .rsplit(['.', '/'])
        .next()
        .unwrap_or(&wanted)
        .to_owned();
    let mut scored: Vec<(f64, String)> = methods
        .iter()
        .map(|method| {
            let name = endpoint_name(method);
            let whole = strsim::jaro_winkler(&wanted, &name.to_lowercase());
            let full = strsim::jaro_winkler(&wanted, &method.full_name().to_lowercase());
            let by_method = strsim::jaro_winkler(&wanted_method, &method.name().to_lowercase());
            (whole.max(full).max(by_method - 0.05), name)
        })
        .filter(|(score, _)| *score >= 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    // Only names nearly as close as the best one; a shared prefix alone is no suggestion.
    let best = scored.first().map_or(0.0, |first| first.0);
    scored
        .into_iter()
        .take_while(|(score, _)| *score >= best - 0.05)
        .take(3)
        .map(|(_, name)| name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_reflect::DescriptorPool;

    fn schema() -> Schema {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.proto"),
            "syntax = \"proto3\"; package a; message M {} service Job { rpc CreateJob(M) returns (M); rpc GetJob(M) returns (M); }",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.proto"),
            "syntax = \"proto3\"; package b; message M {} service Job { rpc GetJob(M) returns (M); }",
        )
        .unwrap();
        let set = protox::compile(["a.proto", "b.proto"], [dir.path()]).unwrap();
        Schema::from_pool(DescriptorPool::from_file_descriptor_set(set).unwrap())
    }

    #[test]
    fn every_spelling_resolves() {
        let schema = schema();
        for name in [
            "Job.CreateJob",
            "a.Job.CreateJob",
            "a.Job/CreateJob",
            "/a.Job/CreateJob",
        ] {
            assert_eq!(
                schema.resolve(name).unwrap().full_name(),
                "a.Job.CreateJob",
                "{name}"
            );
        }
        assert_eq!(
            schema.resolve("b.Job/GetJob").unwrap().full_name(),
            "b.Job.GetJob"
        );
    }

    #[test]
    fn ambiguous_names_list_candidates() {
        let error = schema().resolve("Job.GetJob").unwrap_err();
        assert_eq!(
            error.to_string(),
            "endpoint `Job.GetJob` is ambiguous; it could be a.Job.GetJob, b.Job.GetJob"
        );
    }

    #[test]
    fn unknown_names_suggest_the_closest() {
        let error = schema().resolve("Job.CreateJbo").unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown endpoint `Job.CreateJbo`; did you mean Job.CreateJob?"
        );
        let error = schema().resolve("Zebra.Stripes").unwrap_err();
        assert_eq!(error.to_string(), "unknown endpoint `Zebra.Stripes`");
    }
}
