// Who is making a request, as resolved by authentication: the user, how they authenticated (an
// access token or an API key) and what they may do. Plain data, shared by http/ and the services.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace parley {

enum class Scope : unsigned { read = 1U, write = 2U, admin = 4U };

struct Principal {
    std::string user_id;     // empty: not authenticated
    std::string api_key_id;  // empty: authenticated with an access token (JWT)
    unsigned scopes = 0;     // bit set of Scope
    bool anonymous = false;  // AUTH_MODE=open: no credential was sent (the local user)

    bool authenticated() const noexcept { return !user_id.empty(); }

    bool has(Scope s) const noexcept { return (scopes & static_cast<unsigned>(s)) != 0; }
};

constexpr unsigned kAllScopes = static_cast<unsigned>(Scope::read) |
                                static_cast<unsigned>(Scope::write) |
                                static_cast<unsigned>(Scope::admin);

// "read" → Scope::read, etc.; false for an unknown name.
bool parse_scope(std::string_view name, Scope& out) noexcept;

std::string_view scope_name(Scope s) noexcept;

// The names of the scopes in a bit set, in the order read, write, admin.
std::vector<std::string> scope_names(unsigned scopes);

}  // namespace parley
