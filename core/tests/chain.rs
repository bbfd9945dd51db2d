//! The chain's loop over steps: the order of `before`s, the action and `after`s beside
//! middlewares that are not steps, an early answer, and a step run through `handle`.

use std::sync::{Arc, Mutex};

use http::{HeaderValue, StatusCode};
use seam_core::pipeline::Pipeline;
use seam_core::{Action, Body, Carry, Middleware, Next, Request, Responding, Response, Step, async_trait};

type Log = Arc<Mutex<Vec<String>>>;

/// A step that logs, marks the request and the answer, and answers early when `refuse`.
struct Marking {
    name: &'static str,
    log: Log,
    refuse: bool,
    /// Offered to the chain as a step (else it runs through `handle`).
    offered: bool,
}

impl Step for Marking {
    fn before(&self, req: &mut Request) -> Result<Carry, Response> {
        self.log.lock().unwrap().push(format!("{} before", self.name));
        if self.refuse {
            let mut answer = Response::new(Body::empty());
            *answer.status_mut() = StatusCode::FORBIDDEN;
            return Err(answer);
        }
        req.headers_mut().append("x-seen", HeaderValue::from_static(self.name));
        Ok(Carry { value: Some(HeaderValue::from_static(self.name)), bits: 7, ..Carry::default() })
    }

    fn after(&self, carry: Carry, response: &mut Response) {
        assert_eq!(carry.bits, 7, "the carry of this step's own before");
        self.log.lock().unwrap().push(format!("{} after", self.name));
        response.headers_mut().append("x-trace", carry.value.expect("carried"));
    }
}

#[async_trait]
impl Middleware for Marking {
    fn handle<'s, 'f>(&'s self, req: Request, next: Next) -> Responding<'f>
    where
        's: 'f,
        Self: 'f,
    {
        seam_core::step::handle(self, req, next)
    }

    fn as_step(&self) -> Option<&dyn Step> {
        self.offered.then_some(self as &dyn Step)
    }
}

/// A middleware that is not a step: it awaits.
struct Awaiting(Log);

#[async_trait]
impl Middleware for Awaiting {
    async fn handle(&self, req: Request, next: Next) -> Response {
        self.0.lock().unwrap().push("awaiting before".into());
        tokio::task::yield_now().await;
        let mut response = next.run(req).await;
        self.0.lock().unwrap().push("awaiting after".into());
        response.headers_mut().append("x-trace", HeaderValue::from_static("awaiting"));
        response
    }
}

/// Answers with the `x-seen` headers it got, in order.
struct Echo(Log);

#[async_trait]
impl Action for Echo {
    async fn handle(&self, req: Request) -> Response {
        self.0.lock().unwrap().push("action".into());
        let seen: Vec<&str> = req.headers().get_all("x-seen").iter().map(|v| v.to_str().unwrap()).collect();
        Response::new(Body::from(seen.join(",")))
    }
}

fn marking(name: &'static str, log: &Log) -> Arc<dyn Middleware> {
    Arc::new(Marking { name, log: log.clone(), refuse: false, offered: true })
}

fn trace(response: &Response) -> Vec<&str> {
    response.headers().get_all("x-trace").iter().map(|v| v.to_str().unwrap()).collect()
}

async fn body(response: Response) -> String {
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn steps_and_awaiting_middlewares_run_in_chain_order() {
    let log = Log::default();
    let chain = Pipeline::new(
        vec![marking("a", &log), Arc::new(Awaiting(log.clone())), marking("b", &log), marking("c", &log)],
        Arc::new(Echo(log.clone())),
    );
    let response = chain.run(http::Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(trace(&response), ["c", "b", "awaiting", "a"], "afters run innermost first");
    assert_eq!(body(response).await, "a,b,c", "befores run in order and reach the action");
    let expected = [
        "a before",
        "awaiting before",
        "b before",
        "c before",
        "action",
        "c after",
        "b after",
        "awaiting after",
        "a after",
    ];
    assert_eq!(*log.lock().unwrap(), expected);
}

#[tokio::test]
async fn a_step_that_answers_stops_the_chain_and_the_steps_before_it_see_its_answer() {
    let log = Log::default();
    let refusing = Arc::new(Marking { name: "r", log: log.clone(), refuse: true, offered: true });
    let chain = Pipeline::new(vec![marking("a", &log), refusing, marking("c", &log)], Arc::new(Echo(log.clone())));
    let response = chain.run(http::Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(trace(&response), ["a"]);
    assert_eq!(*log.lock().unwrap(), ["a before", "r before", "a after"]);
}

#[tokio::test]
async fn a_step_run_through_handle_does_the_same() {
    let log = Log::default();
    let not_offered =
        |name| -> Arc<dyn Middleware> { Arc::new(Marking { name, log: log.clone(), refuse: false, offered: false }) };
    let chain = Pipeline::new(vec![not_offered("a"), marking("b", &log)], Arc::new(Echo(log.clone())));
    let response = chain.run(http::Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(trace(&response), ["b", "a"]);
    assert_eq!(body(response).await, "a,b");
    assert_eq!(*log.lock().unwrap(), ["a before", "b before", "action", "b after", "a after"]);

    let refusing = Arc::new(Marking { name: "r", log: log.clone(), refuse: true, offered: false });
    let chain = Pipeline::new(vec![refusing], Arc::new(Echo(log.clone())));
    let response = chain.run(http::Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "an early answer through handle too");
}
