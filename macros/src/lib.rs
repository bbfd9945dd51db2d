//! `#[seam_core::component]`: the one attribute that makes a config struct a seam component.
//!
//! ```ignore
//! /// Keeps values in a HashMap.
//! #[seam_core::component(name = "plugins.example.storages.HashMapStorage", aliases = ["plugins.ex.storages.Map"])]
//! pub struct HashMapStorageConfig {
//!     /// Keys to reserve room for up front.
//!     #[serde(default)]
//!     pub initial_capacity: usize,
//! }
//! ```
//!
//! It derives `Deserialize` (camelCase keys, unknown keys refused) and `JsonSchema`, and
//! registers the struct under the dotted name, written once. The kind comes from the name
//! (`plugins.<plugin>.<kind>s.<Type>`, checked at compile time) and must match what the
//! struct's `Component` impl builds: a `storages` name needs `type Output = dyn Storage`.
//! `default_storage` marks the storage components get when they name none.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::{Expr, ExprLit, ItemStruct, Lit, LitStr, Meta, parse_macro_input};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Storage,
    Middleware,
    Action,
}

impl Kind {
    fn from_segment(segment: &str) -> Option<Kind> {
        match segment {
            "storages" => Some(Kind::Storage),
            "middlewares" => Some(Kind::Middleware),
            "actions" => Some(Kind::Action),
            _ => None,
        }
    }

    fn variant(self) -> TokenStream2 {
        match self {
            Kind::Storage => quote!(Storage),
            Kind::Middleware => quote!(Middleware),
            Kind::Action => quote!(Action),
        }
    }
}

/// Makes the struct a component registered as `name`; see the crate documentation.
#[proc_macro_attribute]
pub fn component(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = Args::default();
    let parser = syn::meta::parser(|meta| args.parse(meta));
    parse_macro_input!(attr with parser);
    let item = parse_macro_input!(item as ItemStruct);
    match expand(args, item) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[derive(Default)]
struct Args {
    name: Option<LitStr>,
    aliases: Vec<LitStr>,
    default_storage: bool,
}

impl Args {
    fn parse(&mut self, meta: syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
        if meta.path.is_ident("name") {
            self.name = Some(meta.value()?.parse::<LitStr>()?);
        } else if meta.path.is_ident("aliases") {
            let array: syn::ExprArray = meta.value()?.parse()?;
            for elem in array.elems {
                match elem {
                    Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => self.aliases.push(s),
                    other => return Err(syn::Error::new_spanned(other, "aliases are string literals")),
                }
            }
        } else if meta.path.is_ident("default_storage") {
            self.default_storage = true;
        } else {
            return Err(meta.error(
                "unknown `component` argument; expected `name = \"...\"`, `aliases = [\"...\"]` or `default_storage`",
            ));
        }
        Ok(())
    }
}

/// Checks `plugins.<plugin>.<kind>s.<Type>`; returns the plugin segment and the kind.
fn check_name(lit: &LitStr, expected: Option<Kind>) -> syn::Result<(String, Kind)> {
    let value = lit.value();
    let parts: Vec<&str> = value.split('.').collect();
    let shape = "plugins.<plugin>.<storages|middlewares|actions>.<Type>";
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
    let Some(kind) = Kind::from_segment(parts[2]) else {
        return fail(format!("unknown kind segment `{}`", parts[2]));
    };
    if expected.is_some_and(|e| e != kind) {
        return fail(format!("an alias must have the kind segment of the name, not `{}`", parts[2]));
    }
    let ty = parts[3];
    if !ty.chars().next().is_some_and(|c| c.is_ascii_uppercase()) || !ty.chars().all(|c| c.is_ascii_alphanumeric()) {
        return fail(format!("the type segment `{ty}` must be UpperCamelCase"));
    }
    Ok((plugin.to_owned(), kind))
}

fn description(item: &ItemStruct) -> String {
    let mut lines = Vec::new();
    for attr in &item.attrs {
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

fn expand(args: Args, item: ItemStruct) -> syn::Result<TokenStream2> {
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(&item.generics, "a component config struct cannot be generic"));
    }
    let name = args.name.ok_or_else(|| {
        syn::Error::new(
            Span::call_site(),
            "#[component] needs a name: #[component(name = \"plugins.<plugin>.<storages|middlewares|actions>.<Type>\")]",
        )
    })?;
    let (plugin, kind) = check_name(&name, None)?;
    for alias in &args.aliases {
        check_name(alias, Some(kind))?;
    }
    if args.default_storage && kind != Kind::Storage {
        return Err(syn::Error::new_spanned(&name, "only a storage can be the `default_storage`"));
    }
    let ident = &item.ident;
    let aliases = &args.aliases;
    let description = description(&item);
    let variant = kind.variant();
    let default_storage = args.default_storage;
    Ok(quote! {
        #[derive(::seam_core::__private::serde::Deserialize, ::seam_core::__private::schemars::JsonSchema)]
        #[serde(crate = "::seam_core::__private::serde", deny_unknown_fields, rename_all = "camelCase")]
        #[schemars(crate = "::seam_core::__private::schemars")]
        #item

        impl #ident {
            /// The dotted name this component is registered under.
            pub const COMPONENT_NAME: &'static str = #name;
        }

        ::seam_core::__private::inventory::submit! {
            ::seam_core::Registration {
                name: #name,
                plugin: #plugin,
                aliases: &[#(#aliases),*],
                description: #description,
                defined_in: ::core::module_path!(),
                schema: ::seam_core::__private::schema_of::<#ident>,
                factory: ::seam_core::Factory::#variant(
                    ::seam_core::__private::parse::<#ident, dyn ::seam_core::#variant>
                ),
                default_storage: #default_storage,
            }
        }
    })
}
