//! `#[derive(Storage)]`, `#[derive(Middleware)]`, `#[derive(Action)]`: register a config
//! struct as a seam component under a dotted name.
//!
//! ```ignore
//! /// Keeps values in a HashMap.
//! #[derive(Deserialize, JsonSchema, Storage)]
//! #[serde(deny_unknown_fields, rename_all = "camelCase")]
//! #[seam(name = "plugins.example.storages.HashMapStorage", aliases = ["plugins.ex.storages.Map"])]
//! pub struct HashMapStorageConfig { /* ... */ }
//! ```
//!
//! The struct must implement the matching build trait (`BuildStorage`, ...). The name is
//! checked at compile time: `plugins.<plugin>.<kind>s.<Type>` with the kind of the derive.

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::quote;
use syn::{DeriveInput, Expr, ExprLit, Lit, LitStr, Meta, parse_macro_input};

#[derive(Clone, Copy)]
enum Kind {
    Storage,
    Middleware,
    Action,
}

impl Kind {
    fn segment(self) -> &'static str {
        match self {
            Kind::Storage => "storages",
            Kind::Middleware => "middlewares",
            Kind::Action => "actions",
        }
    }
    fn variant(self) -> proc_macro2::TokenStream {
        match self {
            Kind::Storage => quote!(::seam_registry::Kind::Storage),
            Kind::Middleware => quote!(::seam_registry::Kind::Middleware),
            Kind::Action => quote!(::seam_registry::Kind::Action),
        }
    }
    fn parse_fn(self) -> proc_macro2::TokenStream {
        match self {
            Kind::Storage => quote!(::seam_registry::__private::parse_storage),
            Kind::Middleware => quote!(::seam_registry::__private::parse_middleware),
            Kind::Action => quote!(::seam_registry::__private::parse_action),
        }
    }
    fn derive_name(self) -> &'static str {
        match self {
            Kind::Storage => "Storage",
            Kind::Middleware => "Middleware",
            Kind::Action => "Action",
        }
    }
}

/// Registers a storage config struct; it must implement `seam_registry::BuildStorage`.
#[proc_macro_derive(Storage, attributes(seam))]
pub fn derive_storage(input: TokenStream) -> TokenStream {
    expand(parse_macro_input!(input as DeriveInput), Kind::Storage)
}

/// Registers a middleware config struct; it must implement `seam_registry::BuildMiddleware`.
#[proc_macro_derive(Middleware, attributes(seam))]
pub fn derive_middleware(input: TokenStream) -> TokenStream {
    expand(parse_macro_input!(input as DeriveInput), Kind::Middleware)
}

/// Registers an action config struct; it must implement `seam_registry::BuildAction`.
#[proc_macro_derive(Action, attributes(seam))]
pub fn derive_action(input: TokenStream) -> TokenStream {
    expand(parse_macro_input!(input as DeriveInput), Kind::Action)
}

fn expand(input: DeriveInput, kind: Kind) -> TokenStream {
    match try_expand(&input, kind) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

struct Attr {
    name: LitStr,
    aliases: Vec<LitStr>,
}

fn parse_attr(input: &DeriveInput, kind: Kind) -> syn::Result<Attr> {
    let mut name = None;
    let mut aliases = Vec::new();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("seam")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                name = Some(meta.value()?.parse::<LitStr>()?);
                Ok(())
            } else if meta.path.is_ident("aliases") {
                let array: syn::ExprArray = meta.value()?.parse()?;
                for elem in array.elems {
                    match elem {
                        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => aliases.push(s),
                        other => return Err(syn::Error::new_spanned(other, "aliases are string literals")),
                    }
                }
                Ok(())
            } else {
                Err(meta.error("unknown `seam` attribute; expected `name = \"...\"` or `aliases = [\"...\"]`"))
            }
        })?;
    }
    let name = name.ok_or_else(|| {
        syn::Error::new(
            Span::call_site(),
            format!(
                "#[derive({})] needs #[seam(name = \"plugins.<plugin>.{}.<Type>\")]",
                kind.derive_name(),
                kind.segment()
            ),
        )
    })?;
    Ok(Attr { name, aliases })
}

/// Checks `plugins.<plugin>.<kind>s.<Type>` and returns the plugin segment.
fn check_name(lit: &LitStr, kind: Kind) -> syn::Result<String> {
    let value = lit.value();
    let parts: Vec<&str> = value.split('.').collect();
    let shape = format!("plugins.<plugin>.{}.<Type>", kind.segment());
    let fail = |why: String| {
        Err(syn::Error::new(lit.span(), format!("invalid component name `{value}`: {why}; expected `{shape}`")))
    };
    if parts.len() != 4 {
        return fail(format!("it has {} dot-separated segments, not 4", parts.len()));
    }
    if parts[0] != "plugins" {
        return fail("it must start with `plugins.`".into());
    }
    let plugin = parts[1];
    if plugin.is_empty()
        || !plugin.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        || !plugin.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return fail(format!("the plugin segment `{plugin}` must be lowercase (a-z, 0-9, `_`, `-`)"));
    }
    if parts[2] != kind.segment() {
        let known = ["storages", "middlewares", "actions"];
        return if known.contains(&parts[2]) {
            fail(format!("the kind segment `{}` contradicts #[derive({})]", parts[2], kind.derive_name()))
        } else {
            fail(format!("unknown kind segment `{}`", parts[2]))
        };
    }
    let ty = parts[3];
    if !ty.chars().next().is_some_and(|c| c.is_ascii_uppercase()) || !ty.chars().all(|c| c.is_ascii_alphanumeric()) {
        return fail(format!("the type segment `{ty}` must be UpperCamelCase"));
    }
    Ok(plugin.to_owned())
}

fn description(input: &DeriveInput) -> String {
    let mut lines = Vec::new();
    for attr in &input.attrs {
        if let Meta::NameValue(nv) = &attr.meta
            && nv.path.is_ident("doc")
            && let Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) = &nv.value
        {
            lines.push(s.value().trim().to_owned());
        }
    }
    let first_paragraph: Vec<String> =
        lines.into_iter().skip_while(|l| l.is_empty()).take_while(|l| !l.is_empty()).collect();
    first_paragraph.join(" ")
}

fn try_expand(input: &DeriveInput, kind: Kind) -> syn::Result<proc_macro2::TokenStream> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(&input.generics, "a component config struct cannot be generic"));
    }
    let attr = parse_attr(input, kind)?;
    let plugin = check_name(&attr.name, kind)?;
    for alias in &attr.aliases {
        check_name(alias, kind)?;
    }
    let ident = &input.ident;
    let name = &attr.name;
    let aliases = &attr.aliases;
    let description = description(input);
    let kind_variant = kind.variant();
    let parse_fn = kind.parse_fn();
    Ok(quote! {
        impl #ident {
            /// The dotted name this component is registered under.
            pub const COMPONENT_NAME: &'static str = #name;
        }
        ::seam_registry::__private::inventory::submit! {
            ::seam_registry::Registration {
                name: #name,
                kind: #kind_variant,
                plugin: #plugin,
                aliases: &[#(#aliases),*],
                description: #description,
                defined_in: ::core::module_path!(),
                schema: ::seam_registry::__private::schema_of::<#ident>,
                parse: #parse_fn::<#ident>,
            }
        }
    })
}
