// parley_stream_load: the streaming benchmark of issue #6 (bench/stream.sh), both halves in one
// binary. `upstream` serves a fake OpenAI chat.completion stream (stream_upstream.hpp); `load`
// opens concurrent SSE streams and measures them (stream_generator.hpp).
#include <algorithm>
#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>

#include "stream_generator.hpp"
#include "stream_upstream.hpp"

using parley::bench::LoadOptions;
using parley::bench::UpstreamOptions;

int main(int argc, char** argv) {
    CLI::App cli{"Parley streaming benchmark: fake OpenAI upstream and SSE load generator"};
    cli.require_subcommand(1);

    UpstreamOptions up;
    auto* upstream = cli.add_subcommand("upstream", "Serve a fake OpenAI chat.completion stream");
    upstream->add_option("--port", up.port, "Port on 127.0.0.1 (0: any free port)")->required();
    upstream->add_option("--deltas", up.deltas, "Content deltas per answer")->capture_default_str();
    upstream->add_option("--gap-ms", up.gap_ms, "Milliseconds between deltas")
        ->capture_default_str();

    LoadOptions load;
    auto* loadcmd = cli.add_subcommand("load", "Open concurrent SSE streams and measure them");
    loadcmd->add_option("--url", load.url, "http://host:port/path")->required();
    loadcmd->add_option("--concurrency", load.concurrency, "Concurrent connections")
        ->capture_default_str()
        ->check(CLI::Range(1, 1'000'000));
    loadcmd->add_option("--streams", load.streams, "Streams in all")
        ->capture_default_str()
        ->check(CLI::Range(1, 100'000'000));
    loadcmd->add_option("--header", load.headers, "Extra request header 'Name: value'");
    auto* body = loadcmd->add_option("--body", load.body, "JSON request body");
    loadcmd->add_option("--body-file", load.body_file, "File holding the request body")
        ->excludes(body);
    loadcmd->add_option(
        "--targets-file",
        load.targets_file,
        "URL paths, one a line; connection i uses line i mod their number"
    );
    loadcmd->add_option(
        "--expect-deltas", load.expect_deltas, "Fewer content deltas than this is an error"
    );
    loadcmd->add_option("--stall-ms", load.stall_ms, "A gap above this is a stall")
        ->capture_default_str();
    loadcmd->add_option("--ramp-ms", load.ramp_ms, "Spread connection starts over this time")
        ->capture_default_str();
    loadcmd->add_option("--ttfts-file", load.ttfts_file, "Write each stream's TTFT (ms) there");
    loadcmd->add_option("--timeout-s", load.timeout_s, "Longest silence before giving up")
        ->capture_default_str();

    CLI11_PARSE(cli, argc, argv);
    try {
        if (upstream->parsed()) {
            return parley::bench::run_upstream(up);
        }
        load.concurrency = std::min(load.concurrency, load.streams);
        return parley::bench::run_load(load);
    } catch (const std::exception& e) {
        std::cerr << "stream_load: " << e.what() << '\n';
        return 1;
    }
}
