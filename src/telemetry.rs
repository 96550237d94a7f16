//! Logs and traces: one `tracing` subscriber for the whole process.
//!
//! - **Logs** are events, written to standard error as text or JSON lines
//!   (`VALISE_LOG_FORMAT`), filtered by `RUST_LOG` (default `info`). Dependencies that log
//!   through the `log` crate (diesel's r2d2, lettre, …) land in the same output.
//! - **Traces** are spans, exported over OTLP/HTTP (protobuf) when `serve` is given a
//!   collector (`VALISE_OTLP_ENDPOINT`): one span per request (`http::middleware`), one per
//!   piece of database work inside it (`db::Db::run`), one per outgoing delivery attempt
//!   (`delivery::Sender`). Only Valise's own spans are exported, never log events: a span
//!   carries route templates, methods, status codes and the backend's name, never a path, a
//!   query, a URL or a message.
//!
//! The layers are filtered apart: logs see events only (so log lines stay as they were,
//! without span prefixes), traces see spans only. Without a collector no layer wants a span,
//! and creating one costs a branch on a cached flag.
//!
//! Export never blocks a request: the SDK's batch processor queues finished spans (2048 by
//! default, dropping beyond) and exports them from a thread of its own, every 5 seconds or
//! every 512 spans (`OTEL_BSP_*` tune it). [`Telemetry`] flushes what is queued when it is
//! dropped, at the end of `main`.

use std::io::IsTerminal;

use actix_web::http::header::HeaderMap;
use anyhow::Context as _;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use crate::config::{LogFormat, TelemetryConfig};

/// The targets of Valise's spans start with this; no other span is exported.
const OWN_TARGETS: &str = "valise";

/// The installed subscriber's trace pipeline; dropping it flushes the spans still queued.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            // Flushes the queue and stops the export thread (bounded by the exporter's
            // timeout when the collector does not answer).
            if let Err(e) = provider.shutdown() {
                tracing::warn!("could not flush the last spans to the collector: {e}");
            }
        }
    }
}

/// Installs the process's subscriber: logs as configured, and traces to the collector when
/// `traced` (only `serve` exports: a short CLI command would mostly wait for its flush).
pub fn init(config: &TelemetryConfig, traced: bool) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .from_env_lossy();
    // Each filter says the most verbose level it can pass. Without that hint (a bare
    // `filter_fn` has none, and an `and` with it has none either) tracing takes every
    // callsite of every crate as possibly enabled, and `log`'s maximum is set to TRACE for
    // the bridge: each `trace!` of the HTTP stack then asked the filters at run time, 6,400
    // of a 17,800-instruction `/healthz` (bench/instructions.sh).
    let events_only = filter_fn(|meta| meta.is_event());
    let events_only = match Layer::<Registry>::max_level_hint(&filter) {
        Some(level) => events_only.with_max_level_hint(level),
        None => events_only,
    };
    let writer = std::io::stderr;
    let logs = match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(writer)
            .boxed(),
    }
    .with_filter(filter.and(events_only));

    let provider = match &config.otlp_traces {
        Some(url) if traced => Some(provider(url)?),
        _ => None,
    };
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("valise"))
            .with_filter(
                filter_fn(|meta| meta.is_span() && meta.target().starts_with(OWN_TARGETS))
                    // Valise's spans are all `info_span!`.
                    .with_max_level_hint(LevelFilter::INFO),
            )
    });
    tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init()
        .context("installing the log subscriber")?;
    if let Some(url) = config.otlp_traces.as_ref().filter(|_| traced) {
        tracing::info!("exporting traces to {url}");
    }
    Ok(Telemetry { provider })
}

/// The tracer provider exporting to `url` (the collector's traces URL). The SDK reads the
/// standard `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_TRACES_SAMPLER`
/// and `OTEL_BSP_*` variables; the service is named `valise`.
fn provider(url: &url::Url) -> anyhow::Result<SdkTracerProvider> {
    // The blocking client is built on a thread of its own and used only from the batch
    // processor's thread: no actix worker ever waits for the collector.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url.as_str())
        .build()
        .context("building the OTLP span exporter")?;
    let resource = Resource::builder()
        .with_service_name("valise")
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// The span a caller says its request belongs to (a W3C `traceparent` header), if valid.
///
/// A caller decides nothing here: its context becomes a *link* of the request's span, never
/// its parent. The request starts a trace of Valise's own (its id, and whether it is sampled,
/// are Valise's choice), so a caller can neither make its spans join someone else's trace nor
/// turn tracing on or off; a trace viewer still leads from the caller's span to ours.
/// `tracestate` is ignored.
pub fn caller_span(headers: &HeaderMap) -> Option<SpanContext> {
    headers.get("traceparent")?;
    let context = TraceContextPropagator::new().extract(&Headers(headers));
    let span = context.span().span_context().clone();
    span.is_valid().then_some(span)
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    #[test]
    fn a_caller_s_traceparent_is_read_only_when_valid() {
        let mut headers = HeaderMap::new();
        assert!(caller_span(&headers).is_none());
        for bad in [
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        ] {
            headers.insert(
                actix_web::http::header::HeaderName::from_static("traceparent"),
                HeaderValue::from_static(bad),
            );
            assert!(caller_span(&headers).is_none(), "{bad}");
        }
        headers.insert(
            actix_web::http::header::HeaderName::from_static("traceparent"),
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
        );
        let span = caller_span(&headers).unwrap();
        assert_eq!(
            span.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(span.is_remote());
    }
}
