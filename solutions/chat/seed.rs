//! Seed mode (`--wire seed`), given: the seed's framing is not the lesson (the handout's "Why the
//! seed's protocol breaks" shows what goes wrong with it), but our server can speak it. Its
//! reader is the kit's `socklab::wire::read_recv`; here is the `!` map as the seed writes it.

use std::collections::BTreeMap;

/// The map as Python's `json.dumps` writes it (what the seed's clients receive): `, ` and
/// `: ` between items, and every character beyond ASCII as `\uXXXX`.
pub fn python_json(users: &BTreeMap<&str, String>) -> String {
    let quoted = |text: &str| {
        // serde_json escapes quotes and control characters; Python also escapes non-ASCII.
        let json = serde_json::to_string(text).expect("a string always serialises");
        let mut ascii = String::new();
        for c in json.chars() {
            if c.is_ascii() {
                ascii.push(c);
            } else {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    ascii.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
        ascii
    };
    let items: Vec<String> = users
        .iter()
        .map(|(name, ip)| format!("{}: {}", quoted(name), quoted(ip)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_map_is_written_as_python_writes_it() {
        let users = BTreeMap::from([("amy", "10.0.0.1".to_string()), ("Ærlig", "::1".into())]);
        assert_eq!(
            python_json(&users),
            r#"{"amy": "10.0.0.1", "\u00c6rlig": "::1"}"#
        );
        assert_eq!(python_json(&BTreeMap::new()), "{}");
    }
}
