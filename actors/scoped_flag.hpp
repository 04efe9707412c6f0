#pragma once

namespace mqhub::actors {

/// Sets a flag for as long as it lives and clears it on the way out, exceptions included.
class scoped_flag {
 public:
  scoped_flag(bool& flag, bool value) : flag_(flag) { flag_ = value; }
  ~scoped_flag() { flag_ = false; }
  scoped_flag(const scoped_flag&) = delete;
  scoped_flag& operator=(const scoped_flag&) = delete;

 private:
  bool& flag_;
};

}  // namespace mqhub::actors
