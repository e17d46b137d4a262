// The subcommands of the one `meterd` binary. Each takes argv with argv[0] = its own name and
// returns the process exit code (0 clean, 1 some data rejected, 2 unreadable input or usage).
#pragma once

namespace meterd::app {

int run_parse(int argc, char** argv);
int run_query(int argc, char** argv);
int run_compact(int argc, char** argv);
int run_retention(int argc, char** argv);
int run_ingest(int argc, char** argv);
int run_serve(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_generate(int argc, char** argv);
int run_forward(int argc, char** argv);        // docs/http.md
int run_bench_http(int argc, char** argv);     // `meterd bench http`
int run_bench_rollups(int argc, char** argv);  // `meterd bench rollups`
int run_audit(int argc, char** argv);          // storage/audit_log.hpp

}  // namespace meterd::app
