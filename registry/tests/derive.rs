//! Compile-time checks of `#[derive(Storage)]`, `#[derive(Middleware)]`, `#[derive(Action)]`.

#[test]
fn derive_ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/derive/pass/*.rs");
    cases.compile_fail("tests/derive/fail/*.rs");
}
