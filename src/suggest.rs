//! "Did you mean": the names closest to a misspelt one, for every error that names
//! something the user typed (services, fields, endpoints). Depends on nothing.

/// Up to three of `candidates` close to `wanted` (case-insensitive Jaro-Winkler ≥ 0.8),
/// only those nearly as close as the best one, so that a shared prefix alone suggests
/// nothing.
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let wanted = wanted.to_lowercase();
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .map(|name| (strsim::jaro_winkler(&wanted, &name.to_lowercase()), name))
        .filter(|(score, _)| *score >= 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    let best = scored.first().map_or(0.0, |first| first.0);
    scored
        .into_iter()
        .take_while(|(score, _)| *score >= best - 0.05)
        .take(3)
        .map(|(_, name)| name.to_owned())
        .collect()
}

/// `; did you mean X?` / `; did you mean one of X, Y?`, or nothing.
pub fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!("; did you mean {one}?"),
        many => format!("; did you mean one of {}?", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(closest("jobs", ["job", "shop", "actuator"]), ["job"]);
        assert_eq!(closest("nmae", ["name", "id"]), ["name"]);
        assert!(closest("zzz", ["name", "id"]).is_empty());
        assert_eq!(did_you_mean(&["a".into()]), "; did you mean a?");
        assert_eq!(did_you_mean(&[]), "");
    }
}
