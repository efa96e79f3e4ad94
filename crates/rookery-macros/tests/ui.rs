//! Compile-fail tests: each file under `ui/` is a mistake a user can make with
//! `#[rookery::service]`, and its `.stderr` the message they get. The snapshots depend on the
//! compiler's version (1.95 when they were written); `TRYBUILD=overwrite cargo test -p
//! rookery-macros --test ui` rewrites them after an upgrade, to be read before committing.

#[test]
fn mistakes_get_clear_messages() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
