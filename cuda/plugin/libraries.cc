// cuBLAS and cuDNN, loaded at run time with dlopen (never linked), so the
// plugin itself loads on any machine and says precisely what is missing.
//
// Search order for each library (first that loads wins; every failure is kept):
//   1. env S3D_CUDA_LIB_DIR (one folder, or several separated by ':')
//   2. env CUDA_PATH/lib64
//   3. /usr/local/cuda/lib64, then /usr/local/cuda-*/lib64 (newest name first)
//   4. the dynamic loader by plain soname (LD_LIBRARY_PATH, ld.so.cache / ldconfig)
//   5. the nvidia/*/lib folders of an installed PyTorch's pip wheels, in the
//      site-packages folders named by env S3D_PYTHON_SITE (':'-separated) or else
//      found under /usr/lib/python3*/dist-packages, /usr/local/lib/python3*/{site,dist}-packages
//      and ~/.local/lib/python3*/site-packages
#include <dirent.h>
#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "plugin_internal.h"

namespace s3d::cuda {

namespace {

bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool is_file(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

std::vector<std::string> split(const char* s, char sep) {
  std::vector<std::string> out;
  if (!s) return out;
  std::string cur;
  for (const char* c = s; *c; ++c) {
    if (*c == sep) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += *c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// Entries of dir whose name starts with prefix, sorted descending (newest version first).
std::vector<std::string> glob_dir(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != ".." && n.compare(0, prefix.size(), prefix) == 0) out.push_back(dir + "/" + n);
  }
  closedir(d);
  std::sort(out.rbegin(), out.rend());
  return out;
}

struct Folder {
  std::string dir;
  std::string origin;  // "S3D_CUDA_LIB_DIR", "CUDA_PATH", "/usr/local/cuda*", "PyTorch"
};

std::vector<Folder> toolkit_folders() {
  std::vector<Folder> f;
  for (auto& d : split(std::getenv("S3D_CUDA_LIB_DIR"), ':')) f.push_back({d, "S3D_CUDA_LIB_DIR"});
  if (const char* cp = std::getenv("CUDA_PATH"); cp && *cp) f.push_back({std::string(cp) + "/lib64", "CUDA_PATH"});
  f.push_back({"/usr/local/cuda/lib64", "/usr/local/cuda*"});
  for (auto& d : glob_dir("/usr/local", "cuda-")) f.push_back({d + "/lib64", "/usr/local/cuda*"});
  return f;
}

std::vector<std::string> site_packages() {
  std::vector<std::string> sites = split(std::getenv("S3D_PYTHON_SITE"), ':');
  if (!sites.empty()) return sites;
  for (auto& py : glob_dir("/usr/lib", "python3")) sites.push_back(py + "/dist-packages");
  for (auto& py : glob_dir("/usr/local/lib", "python3")) {
    sites.push_back(py + "/site-packages");
    sites.push_back(py + "/dist-packages");
  }
  if (const char* home = std::getenv("HOME"); home && *home)
    for (auto& py : glob_dir(std::string(home) + "/.local/lib", "python3")) sites.push_back(py + "/site-packages");
  std::vector<std::string> out;
  for (auto& s : sites)
    if (is_dir(s)) out.push_back(s);
  return out;
}

std::vector<Folder> pytorch_folders(std::vector<std::string>& sites_searched) {
  std::vector<Folder> f;
  sites_searched = site_packages();
  for (auto& site : sites_searched)
    for (auto& pkg : glob_dir(site + "/nvidia", ""))
      if (is_dir(pkg + "/lib")) f.push_back({pkg + "/lib", "PyTorch"});
  return f;
}

std::string clip(std::string s, std::size_t n) {
  if (s.size() > n) s = s.substr(0, n - 3) + "...";
  return s;
}

void* try_open(const std::string& what, std::vector<std::string>& failures) {
  dlerror();
  void* h = dlopen(what.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = dlerror();
    failures.push_back(e ? e : ("dlopen(" + what + ") failed"));
  }
  return h;
}

// Loads the first of sonames found along the search order; fills lib; appends
// reasons on failure. Returns the handle or null.
void* load(const char* label, const std::vector<std::string>& sonames, Library& lib, std::vector<std::string>& reasons) {
  std::vector<std::string> failures;  // dlopen errors of files that exist (or of the plain soname)
  std::vector<std::string> searched;
  auto try_folders = [&](const std::vector<Folder>& folders) -> void* {
    for (auto& f : folders) {
      searched.push_back(f.dir);
      if (!is_dir(f.dir)) continue;
      for (auto& so : sonames) {
        std::string p = f.dir + "/" + so;
        if (!is_file(p)) continue;
        if (void* h = try_open(p, failures)) {
          lib.path = p;
          return h;
        }
      }
    }
    return nullptr;
  };
  void* h = try_folders(toolkit_folders());
  const std::vector<std::string> toolkit_dirs = searched;
  std::string loader_error;
  if (!h) {
    for (auto& so : sonames) {
      std::vector<std::string> e;
      if ((h = try_open(so, e))) {
        char origin[4096] = {0};
        lib.path = so;
        if (dlinfo(h, RTLD_DI_ORIGIN, origin) == 0 && origin[0]) lib.path = std::string(origin) + "/" + so;
        break;
      }
      if (loader_error.empty() && !e.empty()) loader_error = e[0];
    }
  }
  std::vector<std::string> sites;
  if (!h) h = try_folders(pytorch_folders(sites));
  if (h) {
    lib.found = true;
    return h;
  }
  std::string names;
  for (auto& so : sonames) names += (names.empty() ? "" : " / ") + so;
  std::string dirs;
  std::vector<std::string> uniq;
  for (auto& d : toolkit_dirs)
    if (std::find(uniq.begin(), uniq.end(), d) == uniq.end()) uniq.push_back(d);
  for (auto& d : uniq) dirs += (dirs.empty() ? "" : ", ") + d;
  std::string where_py = sites.empty() ? std::string("no site-packages folder found (set S3D_PYTHON_SITE)")
                                       : "site-packages searched: " + [&] {
                                           std::string s;
                                           for (auto& x : sites) s += (s.empty() ? "" : ", ") + x;
                                           return s;
                                         }();
  std::string r = std::string(label) + " not found: " + names + " is not in " + clip(dirs, 260) +
                  "; the dynamic loader says: " + (loader_error.empty() ? "?" : loader_error) +
                  "; no PyTorch nvidia/*/lib has it (" + clip(where_py, 200) +
                  "); set S3D_CUDA_LIB_DIR to the folder that holds it";
  reasons.push_back(r);
  for (auto& f : failures) reasons.push_back(std::string(label) + " found but failed to load: " + f);
  return nullptr;
}

template <typename Api>
bool resolve(void* h, const char* label, Library& lib, std::vector<std::string>& reasons,
             void (*fill)(void*, Api&, std::vector<std::string>&), Api& api) {
  std::vector<std::string> missing;
  fill(h, api, missing);
  if (missing.empty()) return true;
  std::string m;
  for (auto& s : missing) m += (m.empty() ? "" : ", ") + s;
  reasons.push_back(std::string(label) + " at " + lib.path + " lacks " + m + " (too old?)");
  lib.found = false;
  return false;
}

void fill_cublas(void* h, cublas::Api& api, std::vector<std::string>& missing) {
#define S3D_DLSYM(sym, member)                                          \
  api.member = reinterpret_cast<decltype(api.member)>(dlsym(h, #sym)); \
  if (!api.member) missing.push_back(#sym);
  S3D_CUBLAS_SYMBOLS(S3D_DLSYM)
}
void fill_cudnn(void* h, cudnn::Api& api, std::vector<std::string>& missing) {
  S3D_CUDNN_SYMBOLS(S3D_DLSYM)
#undef S3D_DLSYM
}

Libraries load_all() {
  Libraries L;
  if (void* h = load("cuBLAS", {"libcublas.so.13", "libcublas.so.12"}, L.cublas_info, L.reasons)) {
    if (resolve(h, "cuBLAS", L.cublas_info, L.reasons, fill_cublas, L.cublas)) {
      int maj = 0, min = 0, pat = 0;
      if (L.cublas.get_property(MAJOR_VERSION, &maj) == 0 && L.cublas.get_property(MINOR_VERSION, &min) == 0 &&
          L.cublas.get_property(PATCH_LEVEL, &pat) == 0)
        L.cublas_info.version = std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(pat);
    }
  }
  if (void* h = load("cuDNN", {"libcudnn.so.9"}, L.cudnn_info, L.reasons)) {
    if (resolve(h, "cuDNN", L.cudnn_info, L.reasons, fill_cudnn, L.cudnn)) {
      std::size_t v = L.cudnn.get_version();  // cuDNN 9: major*10000 + minor*100 + patch
      L.cudnn_info.version = std::to_string(v / 10000) + "." + std::to_string((v / 100) % 100) + "." + std::to_string(v % 100);
    }
  }
  return L;
}

}  // namespace

const Libraries& libraries() {
  static std::once_flag once;
  static Libraries L;
  std::call_once(once, [] { L = load_all(); });
  return L;
}

}  // namespace s3d::cuda
