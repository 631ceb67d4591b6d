// One exception type for everything the engine reports to JS; the code maps
// to the TypeScript error classes (ts/errors.ts).
#pragma once
#include <stdexcept>
#include <string>

namespace s3d {

enum class ErrorCode {
  InvalidArgument,    // ERR_INVALID_ARG
  ModelFormat,        // ERR_MODEL_FORMAT
  InputAudio,         // ERR_INPUT_AUDIO
  InputImage,         // ERR_INPUT_IMAGE
  OutOfMemory,        // ERR_OUT_OF_MEMORY
  NotImplemented,     // ERR_NOT_IMPLEMENTED
  BackendUnavailable, // ERR_BACKEND_UNAVAILABLE
  Internal,           // ERR_INTERNAL
};

const char* error_code_name(ErrorCode c);  // "ERR_MODEL_FORMAT", ...

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace s3d
