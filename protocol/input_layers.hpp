// The containers an input is unwrapped through (a gzip or bzip2 stream, a zip archive), as the
// frames of InputReader's explicit stack: what a recursive walk would keep on its call stack,
// kept on the heap instead, so that the walk can stop between any two reads. Internal to
// protocol/input_reader.cpp.
#pragma once

#include <memory>
#include <string>

#include "protocol/input_byte_source.hpp"
#include "protocol/input_expansion.hpp"
#include "protocol/input_sniff.hpp"

namespace meterd {

class InputLayer {
 public:
  InputLayer(std::string name, unsigned depth) : name_(std::move(name)), depth_(depth) {}
  virtual ~InputLayer() = default;
  InputLayer(const InputLayer&) = delete;
  InputLayer& operator=(const InputLayer&) = delete;

  // The next thing inside to unwrap and its name, or nullptr when nothing is left. The source
  // stays valid until the next call (or close_member). Throws InputError.
  virtual ByteSource* next_inner(std::string& name) = 0;
  // Whether an inner member is open: from the moment an archive has found a member until that
  // member is done, an error is the member's own (the archive reports it against the member
  // and goes on with the next), not the archive's.
  virtual bool member_open() const { return false; }
  virtual const std::string& member_name() const { return name_; }
  // Done with the open member, whatever became of it (everything inside it is gone already).
  virtual void close_member() {}

  const std::string& name() const { return name_; }
  unsigned depth() const { return depth_; }  // of what is inside

 private:
  std::string name_;
  unsigned depth_;
};

// The layer for a container `kind` (zip, gzip or bzip2) read from `input`. Throws InputError if
// it is not readable as such (a zip without a readable index or first header).
std::unique_ptr<InputLayer> open_input_layer(InputKind kind, std::string name,
                                             std::unique_ptr<ByteSource> input, unsigned depth,
                                             ExpansionBudget& budget);

}  // namespace meterd
