// landmarks68: 68-point face landmarks (iBUG 300-W order) for raw RGB frames read
// from stdin, using dlib's HOG frontal face detector + the 68-point shape
// predictor (Debian libdlib-dev + libdlib-data). Training-data tool, not shipped.
//
//   landmarks68 WIDTH HEIGHT [MODEL] [DETECT_SIDE] < frames.rgb24 > landmarks.txt
//
// One output line per frame: "<status> <det_score> x0 y0 ... x67 y67" in pixel
// coordinates of the input frame (pixel centres at integer+0.5 are NOT applied:
// dlib's convention, point (0,0) = centre of the top-left pixel). status: 1 =
// detected this frame, 2 = no detection, box taken from the previous frame's
// landmarks (tracking), 0 = nothing (no face yet).
// Detection runs on a copy resized so its longer side is DETECT_SIDE (default
// 320); the predictor runs at full resolution. Deterministic.
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <algorithm>

int main(int argc, char** argv) {
  if (argc < 3) { std::fprintf(stderr, "usage: landmarks68 W H [model] [detect_side]\n"); return 2; }
  const long W = std::atol(argv[1]), H = std::atol(argv[2]);
  const char* model = argc > 3 ? argv[3] : "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
  const double side = argc > 4 ? std::atof(argv[4]) : 320.0;
  dlib::frontal_face_detector det = dlib::get_frontal_face_detector();
  dlib::shape_predictor sp;
  dlib::deserialize(model) >> sp;
  const double s = std::min(1.0, side / double(std::max(W, H)));
  std::vector<unsigned char> buf(size_t(W) * H * 3);
  dlib::array2d<unsigned char> gray(H, W), small;
  bool have_prev = false;
  dlib::rectangle prev;
  while (std::fread(buf.data(), 1, buf.size(), stdin) == buf.size()) {
    for (long y = 0; y < H; ++y)
      for (long x = 0; x < W; ++x) {
        const unsigned char* p = &buf[(size_t(y) * W + x) * 3];
        gray[y][x] = (unsigned char)((299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000);
      }
    dlib::rectangle box;
    double score = 0;
    int status = 0;
    std::vector<dlib::rect_detection> dets;
    if (s < 1.0) {
      small.set_size(long(H * s + 0.5), long(W * s + 0.5));
      dlib::resize_image(gray, small);
      det(small, dets, 0.0);
    } else {
      det(gray, dets, 0.0);
    }
    if (!dets.empty()) {
      // largest face among detections with the best score ordering ties by area
      auto best = std::max_element(dets.begin(), dets.end(), [](const dlib::rect_detection& a, const dlib::rect_detection& b) {
        return a.rect.area() < b.rect.area(); });
      const dlib::rectangle& r = best->rect;
      box = dlib::rectangle(long(r.left() / s + 0.5), long(r.top() / s + 0.5), long(r.right() / s + 0.5), long(r.bottom() / s + 0.5));
      score = best->detection_confidence;
      status = 1;
    } else if (have_prev) {
      box = prev;
      status = 2;
    }
    if (status == 0) {
      std::printf("0 0");
      for (int i = 0; i < 136; ++i) std::printf(" nan");
      std::printf("\n");
      continue;
    }
    dlib::full_object_detection shape = sp(gray, box);
    std::printf("%d %.4f", status, score);
    long x0 = 1 << 30, y0 = 1 << 30, x1 = -(1 << 30), y1 = -(1 << 30);
    for (unsigned i = 0; i < shape.num_parts(); ++i) {
      const dlib::point& q = shape.part(i);
      std::printf(" %ld %ld", q.x(), q.y());
      x0 = std::min(x0, q.x()); y0 = std::min(y0, q.y()); x1 = std::max(x1, q.x()); y1 = std::max(y1, q.y());
    }
    std::printf("\n");
    std::fflush(stdout);
    // tracking box for the next frame if detection fails there: the landmark
    // extent, as a square (dlib's detector boxes are roughly square, brows to chin)
    const long cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, half = std::max(x1 - x0, y1 - y0) / 2;
    prev = dlib::rectangle(cx - half, cy - half, cx + half, cy + half);
    have_prev = true;
  }
  return 0;
}
