//! Compile-time checks of `#[seam_core::component]`.

#[test]
fn component_ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/component/pass/*.rs");
    cases.compile_fail("tests/component/fail/*.rs");
}
