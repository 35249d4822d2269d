//! The Prometheus recorder behind `--metrics-addr` and the gateway's `/metrics`.

use std::time::Duration;

use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};

/// How often the histograms' recorded samples are folded into their summaries.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the global recorder and, on `runtime`, its upkeep: without it every histogram
/// sample stays queued until a scrape, so a gateway nobody scrapes grows without end (about
/// 80 bytes a check).
pub fn install(runtime: &tokio::runtime::Handle) -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new().install_recorder()?;
    let upkeep = handle.clone();
    runtime.spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}
