#include "protocol/input_layers.hpp"

#include <optional>

#include "protocol/input_byte_wrappers.hpp"
#include "protocol/input_decompress.hpp"
#include "protocol/input_member_name.hpp"
#include "protocol/input_zip.hpp"

namespace meterd {
namespace {

// A gzip or bzip2 stream: exactly one thing inside, under the same name.
class CompressedLayer final : public InputLayer {
 public:
  CompressedLayer(InputKind kind, std::string name, std::unique_ptr<ByteSource> input,
                  unsigned depth, ExpansionBudget& budget)
      : InputLayer(std::move(name), depth),
        input_(std::move(input)),
        counted_(*input_, compressed_),
        decoded_(make_decompressing_source(kind, counted_, this->name())),
        // The decompressor starts reading only now: nothing of it was counted before.
        guarded_(
            *decoded_, &compressed_, 0, this->name(), budget,
            kind == InputKind::bzip2 ? budget.limits.max_ratio_bzip2 : budget.limits.max_ratio) {}

  ByteSource* next_inner(std::string& name) override {
    if (given_) return nullptr;
    given_ = true;
    name = this->name();
    return &guarded_;
  }

 private:
  std::unique_ptr<ByteSource> input_;
  std::uint64_t compressed_ = 0;
  CountingByteSource counted_;
  std::unique_ptr<ByteSource> decoded_;
  ExpansionGuard guarded_;
  bool given_ = false;
};

// A zip archive: its regular members one after another, each "archive!member".
class ZipLayer final : public InputLayer {
 public:
  ZipLayer(std::string name, std::unique_ptr<ByteSource> input, unsigned depth,
           ExpansionBudget& budget)
      : InputLayer(std::move(name), depth),
        input_(std::move(input)),
        zip_(*input_, this->name()),
        budget_(budget) {}

  ByteSource* next_inner(std::string& name) override {
    close_member();
    ZipMember member;
    // next() skips what is left of the previous member, or throws if the archive itself is
    // past saving: that is the archive's error, not a member's.
    while (zip_.next(member)) {
      if (!member.regular) continue;  // directories and links carry no data of their own
      member_name_ = this->name() + "!" + printable_member_name(member.path);
      member_open_ = true;
      const InputLimits& limits = budget_.limits;
      if (const std::string why = unsafe_member_name_reason(member.path, limits.max_member_name);
          !why.empty())
        throw InputError(member_name_ + ": " + why);
      if (member.encrypted)
        throw InputError(member_name_ + ": encrypted members are not supported");
      member_data_.emplace(zip_.data(), zip_.raw_bytes_counter(), ZipReader::kMaxReadAhead,
                           member_name_, budget_, limits.max_ratio);
      name = member_name_;
      return &*member_data_;
    }
    return nullptr;
  }

  bool member_open() const override { return member_open_; }
  const std::string& member_name() const override { return member_name_; }
  void close_member() override {
    member_data_.reset();
    member_open_ = false;
  }

 private:
  std::unique_ptr<ByteSource> input_;
  ZipReader zip_;
  ExpansionBudget& budget_;
  std::optional<ExpansionGuard> member_data_;
  std::string member_name_;
  bool member_open_ = false;
};

}  // namespace

std::unique_ptr<InputLayer> open_input_layer(InputKind kind, std::string name,
                                             std::unique_ptr<ByteSource> input, unsigned depth,
                                             ExpansionBudget& budget) {
  if (kind == InputKind::zip)
    return std::make_unique<ZipLayer>(std::move(name), std::move(input), depth, budget);
  return std::make_unique<CompressedLayer>(kind, std::move(name), std::move(input), depth, budget);
}

}  // namespace meterd
