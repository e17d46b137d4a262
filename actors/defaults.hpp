// Every default of the daemon and the in-process pipeline, in one place. The config loader
// starts from these, and conf/meterd.conf documents each of them (a test checks they agree).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace meterd::actors::defaults {

// Directories. Relative paths are taken from the working directory of the daemon.
inline constexpr std::string_view data_dir = "meterd-data";
inline constexpr std::string_view spool_dir = "meterd-spool";
// Where failed batches wait for the safety path; empty = <spool_dir>/journal. Put it on another
// filesystem than data_dir if a full data disk must not also stop the journal.
inline constexpr std::string_view journal_dir = "";
// What happens to a fully durable file: "move" (to done/) or "delete".
inline constexpr std::string_view done_mode = "move";

// Intake.
inline constexpr std::uint32_t files_in_flight = 2;        // readers at once
inline constexpr std::uint32_t rescan_interval_ms = 2000;  // incoming/ rescan besides inotify
inline constexpr std::uint32_t watch_poll_ms = 100;        // how often inotify events are read
inline constexpr std::uint32_t settle_ms = 0;              // ignore files younger than this

// Reader.
inline constexpr std::uint32_t read_chunk_bytes = 1u << 20;    // bytes fed per step
inline constexpr std::uint32_t reader_batch_readings = 65536;  // readings per reader batch
inline constexpr std::uint32_t reader_window = 4;              // reader -> batcher credit
// Register reads and B2B events a reader holds before it has the store write them (and reads
// on only once they are written): a file's records cost memory by this, not by its size.
inline constexpr std::uint32_t reader_records_per_write = 16384;
inline constexpr bool strict = false;  // spec-exact parsing
// A file whose sha256 is already in the ledger is not read again (reported as a duplicate); the
// ledger is asked by the file's fingerprint first, so that other files are read only once.
inline constexpr bool skip_known_files = true;

// Batcher.
inline constexpr std::uint32_t batch_readings = 1u << 20;        // seal a partition at this
inline constexpr std::uint32_t batcher_max_readings = 4u << 20;  // all partitions together
inline constexpr std::uint32_t flush_interval_ms = 1000;         // seal anything this old
inline constexpr std::uint32_t writer_window = 2;                // batcher -> writer credit

// Safety path.
inline constexpr std::uint32_t retry_initial_ms = 500;
inline constexpr std::uint32_t retry_max_ms = 30000;
inline constexpr std::uint32_t max_retries = 20;  // then the batch goes to dead_letter/

// Supervision.
inline constexpr std::uint32_t restart_initial_ms = 100;
inline constexpr std::uint32_t restart_max_ms = 5000;
inline constexpr std::uint32_t max_restarts = 5;  // per file (reader) or per core actor

// Background compaction (serve only; docs/storage.md). Every compact_interval_ms the daemon
// merges the smallest parts of its fullest month partition, up to 16 at a time, while that
// partition has at least compact_min_parts parts; compact_steps_per_tick merges per round, and
// a round that used them all is followed at once by another. compact_interval_ms = 0: off (`meterd
// compact` with the daemon stopped still works).
inline constexpr std::uint32_t compact_interval_ms = 10000;
inline constexpr std::uint32_t compact_min_parts = 8;
inline constexpr std::uint32_t compact_steps_per_tick = 8;

// Runtime.
inline constexpr std::uint32_t scheduler_threads = 2;
// An idle CAF 0.17 worker polls its queue 100 times, then 500 times more 50 µs apart, before it
// waits on its condition variable (which an enqueue from outside signals). Those ~20k wake-ups a
// second of each idle worker took ~10 % of a 2-core host from the HTTP threads (bench http: 0.93
// -> 1.04 M readings/s, medians of 4 alternated); 0 skips the 50 µs stage.
inline constexpr std::size_t scheduler_moderate_polls = 0;
inline constexpr std::uint32_t metrics_interval_ms = 10000;  // metrics line in the log
inline constexpr std::string_view log_level = "info";        // debug | info | warn | error

// HTTP API (docs/http.md; app/http_*.cpp). Empty http_listen = no listener.
// "127.0.0.1:8080", "8080" (loopback) or port 0 for any free port (logged as http_listening).
inline constexpr std::string_view http_listen = "";
// Bearer tokens as "sha256:<64 hex>" of the token, comma-separated, each optionally bound to a
// tenant and roles: "sha256:<hex>@TENANT/ingest+query" ("@*/admin": an admin of every tenant).
// Empty = no authentication, allowed on loopback only.
inline constexpr std::string_view http_tokens = "";
// Tenants, "NAME:CODE+CODE, NAME:CODE" (NAME as storage::valid_tenant, CODE a NEM participant
// id). Empty = a single-tenant install with today's layout.
inline constexpr std::string_view tenants = "";
// Which participant of a NEM12/NEM13 100 header must be one of the tenant's codes:
// to (ToParticipant), from (FromParticipant), either, or none (not checked).
inline constexpr std::string_view tenant_participant_field = "to";
// Retention: months of readings kept per tenant, counted back from the current NEM month (which
// is kept too); 0 = forever. tenant_retention overrides it per tenant ("a:24, b:12"). Older
// month partitions are dropped whole by the background compactor, or moved into
// retention_archive_dir when set (on the data directory's file system).
inline constexpr std::uint32_t retention_months = 0;
inline constexpr std::string_view tenant_retention = "";
inline constexpr std::string_view retention_archive_dir = "";

// Rollups (docs/rollups.md): the definitions file ("" = the shipped four below, "none" = no
// rollups; relative to the config file's directory), and how often the rollups catch up with
// the durable readings (the bound on how far behind they are, with the time a catch-up takes).
inline constexpr std::string_view rollups = "";
inline constexpr std::uint32_t rollup_interval_ms = 2000;
// Month partitions a catch-up recomputes at once (each on its own thread).
inline constexpr unsigned rollup_threads = 2;
inline constexpr std::string_view shipped_rollups =
    "daily_energy = sum by nmi,suffix,uom per day\n"
    "monthly_energy = sum by nmi,suffix,uom per month\n"
    "monthly_peak_demand = peak by nmi,suffix,uom per month\n"
    "daily_completeness = completeness by nmi,suffix per day\n";
// TLS when both are set (PEM files).
inline constexpr std::string_view http_tls_cert = "";
inline constexpr std::string_view http_tls_key = "";
// Listening on anything but loopback needs TLS and tokens, unless this is true.
inline constexpr bool http_allow_insecure = false;
inline constexpr std::uint32_t http_threads = 2;
inline constexpr std::uint32_t http_max_connections = 256;
inline constexpr std::uint32_t http_max_header_bytes = 16384;
inline constexpr std::uint32_t http_max_body_bytes = 256u << 20;
// POST /v1/files and uploads stream to the spool instead of memory: their own, larger limit.
inline constexpr std::uint64_t http_max_file_bytes = 1ull << 40;
// Free space the spool keeps: a file that would leave less is answered 507 before it is read.
inline constexpr std::uint64_t spool_reserve_bytes = 256ull << 20;
inline constexpr std::uint32_t http_request_timeout_ms = 30000;  // to receive one request
inline constexpr std::uint32_t http_ack_timeout_ms = 300000;     // to make it durable
// Ingest requests being validated or waiting to be durable, and their bytes: above either the
// server answers 503 with Retry-After without reading the body.
inline constexpr std::uint32_t http_max_inflight_requests = 64;
inline constexpr std::uint32_t http_max_inflight_bytes = 1024u << 20;
// Request body buffers the API keeps for reuse once decoded (app/http_body_pool.hpp).
inline constexpr std::size_t http_kept_body_bytes = 32u << 20;
// Per-token rate limit (token bucket): requests per second and burst; 0 = unlimited.
inline constexpr std::uint32_t http_rate_limit_rps = 0;
inline constexpr std::uint32_t http_rate_limit_burst = 100;

}  // namespace meterd::actors::defaults
