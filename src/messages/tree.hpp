// Where a turn's messages go in a conversation's message tree (issue 17). Messages form a tree
// through parent_id; a conversation shows and continues one branch, the path from a root to its
// active leaf. A new message continues that branch; an edit is a sibling of a user message (same
// parent) that is answered anew; a regeneration is a sibling of an answer, to the same question.
// In every case the model sees exactly the path to the new message's parent, never another
// branch. Pure: no I/O.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "store/models.hpp"

namespace parley::messages {

// What a turn does to the tree.
struct Branch {
    enum class Kind { append, edit, regenerate };

    Kind kind = Kind::append;
    std::string message_id;  // edit: the user message; regenerate: the answer
};

// A turn's place in the tree, decided from the path that ends at the active leaf (append) or at
// `Branch::message_id` (edit, regenerate).
struct Placement {
    std::optional<std::string> parent_id;  // of the new user message (not for regenerate)
    // The context: the path up to the new message's parent (regenerate: the question), newest
    // first.
    std::vector<store::SharedMessage> newest_first;
    std::optional<store::Message> question;  // regenerate: the stored user message answered
};

// Errors: not_found when an edit or regeneration names no message of the conversation (`path`
// empty); unprocessable when an edit names an answer, or a regeneration anything but an answer to
// a user message.
Result<Placement> place(const Branch& branch, std::vector<store::PathMessage> path);

}  // namespace parley::messages
