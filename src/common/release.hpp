// release(): frees what a value holds at once, for coroutines that outlive the data they started
// with (issue 14: memory per open stream).
#pragma once

#include <type_traits>
#include <utility>

namespace parley {

// Destroys what `value` holds now and leaves it empty (moved from). Assigning an empty value
// instead would keep a string's capacity, and a block-scoped local that takes the value inside a
// coroutine would take a slot of its frame (g++ 12 gives every local one) for the frame's life;
// this function's local is on the stack.
template <class T>
void release(T& value) noexcept(std::is_nothrow_move_constructible_v<T>) {
    [[maybe_unused]] const T gone = std::move(value);
}

}  // namespace parley
