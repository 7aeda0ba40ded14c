// parley: the Conversation API server. Parses the command line and configuration, then runs
// `serve` (the default), `migrate` or `version`.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "app/app.hpp"
#include "app/chat.hpp"
#include "app/config.hpp"
#include "app/routes.hpp"
#include "common/log.hpp"

namespace {

using parley::app::Env;

Env process_environment() {
    Env out;
    for (const auto& s : parley::app::settings()) {
        const std::string name(s.name);
        if (const char* v = std::getenv(name.c_str())) {  // NOLINT(concurrency-mt-unsafe): start-up
            out[name] = v;
        }
    }
    return out;
}

int fail(const std::string& message) {
    std::cerr << "parley: " << message << "\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"Parley — a conversation API server (REST, SSE, WebSocket) for LLM chat apps"};
    cli.fallthrough();
    std::string host;
    std::string port;
    std::string data_dir;
    std::string config_file;
    cli.add_option("--host", host, "Address to listen on (HOST)");
    cli.add_option("--port", port, "Port to listen on, 0 for any free port (PORT)");
    cli.add_option(
        "--data-dir", data_dir, "Directory for the SQLite database and secrets (DATA_DIR)"
    );
    cli.add_option(
        "--config",
        config_file,
        "A .env-style file to read settings from (default: ./.env if present)"
    );
    auto* serve = cli.add_subcommand("serve", "Run the server (the default command)");
    auto* migrate = cli.add_subcommand("migrate", "Apply pending database migrations and exit");
    auto* version = cli.add_subcommand("version", "Print the version and exit");
    auto* routes = cli.add_subcommand(
        "routes", "Print the route table (method, path, access) as JSON and exit"
    );
    parley::app::ChatCommand chat_command;
    auto* chat = cli.add_subcommand(
        "chat", "Ask a model one question through the provider layer; JSON events on stdout"
    );
    chat->add_option("prompt", chat_command.prompt, "The question")->required();
    chat->add_option("--model", chat_command.model, "Model id (default: DEFAULT_MODEL)");
    chat->add_option("--system", chat_command.system, "System prompt");
    chat->add_option("--max-tokens", chat_command.max_tokens, "Largest answer, in tokens")
        ->check(CLI::Range(1, 1'000'000));
    chat->add_flag("--thinking", chat_command.thinking, "Ask for visible reasoning");
    cli.require_subcommand(0, 1);
    CLI11_PARSE(cli, argc, argv);

    if (version->parsed()) {
        std::cout << "parley " << PARLEY_VERSION << "\n";
        return 0;
    }
    if (routes->parsed()) {
        std::cout << parley::app::route_table_json() << "\n";
        return 0;
    }

    Env file_values;
    const bool explicit_file = !config_file.empty();
    const std::string path = explicit_file ? config_file : ".env";
    if (std::filesystem::exists(path)) {
        std::ifstream in(path);
        std::stringstream text;
        text << in.rdbuf();
        auto parsed = parley::app::parse_env_file(text.str());
        if (!parsed) {
            return fail("invalid configuration file " + path + ": " + parsed.error().message);
        }
        file_values = std::move(*parsed);
    } else if (explicit_file) {
        return fail("configuration file not found: " + path);
    }

    Env flags;
    if (!host.empty()) {
        flags["HOST"] = host;
    }
    if (!port.empty()) {
        flags["PORT"] = port;
    }
    if (!data_dir.empty()) {
        flags["DATA_DIR"] = data_dir;
    }
    const Env environment = process_environment();
    auto config = parley::app::load_config(file_values, environment, flags);
    if (!config) {
        return fail("invalid configuration: " + config.error().message);
    }

    if (chat->parsed()) {
        // Logs go to stdout as JSON lines too; keep the chat's own output readable by default.
        parley::log::init(
            config->log_level == parley::log::Level::debug ? parley::log::Level::debug
                                                           : parley::log::Level::error
        );
        const int chat_code = parley::app::run_chat(*config, chat_command);
        parley::log::flush();
        return chat_code;
    }
    parley::log::init(config->log_level);
    auto effective = parley::app::effective_values(file_values, environment, flags);
    effective["DATABASE_URL"] = config->database_url;  // with its default filled in
    parley::app::App app(*config, std::move(effective));
    const int code = migrate->parsed() ? app.migrate() : app.serve();
    (void)serve;
    parley::log::flush();
    return code;
}
