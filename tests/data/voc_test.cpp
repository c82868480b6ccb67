// VocDataset over a small hand-made dataset in our VOC layout: every supervision type, box label
// maps, tags, and clear errors for bad lists, labels, regions and XML.
#include "data/voc.h"

#include <gtest/gtest.h>
#include <stb/stb_image_write.h>

#include <filesystem>

#include "support/expect_error.h"
#include "tests/data/test_files.h"

namespace data {
namespace {

using engine::testing::expect_error;
using namespace data::testing;

constexpr int kW = 10, kH = 8;

std::string box_xml(int w, int h, const std::string& objects) {
  return "<annotation><filename>x.jpg</filename><size><width>" + std::to_string(w) +
         "</width><height>" + std::to_string(h) + "</height><depth>3</depth></size>" + objects +
         "</annotation>";
}
std::string object(const std::string& name, int x0, int y0, int x1, int y1,
                   bool difficult = false) {
  return "<object><name>" + name + "</name><difficult>" + (difficult ? "1" : "0") +
         "</difficult><bndbox><xmin>" + std::to_string(x0) + "</xmin><ymin>" + std::to_string(y0) +
         "</ymin><xmax>" + std::to_string(x1) + "</xmax><ymax>" + std::to_string(y1) +
         "</ymax></bndbox></object>";
}

void write_jpg(const std::string& path, int w, int h) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::vector<uint8_t> rgb(size_t(w) * h * 3, 90);
  ASSERT_TRUE(stbi_write_jpg(path.c_str(), w, h, 3, rgb.data(), 90));
}

// Two images "a" and "b" with every kind of file. Full GT of "a": left half background, right
// half class 15 (person), one void pixel; scribble of "a": row 0 class 12 (dog), rest coded 21
// (SPML's unlabeled); "b" has cat (8) everywhere.
std::string make_dataset(const std::string& name) {
  const std::string root = scratch_dir(name);
  std::vector<uint8_t> full_a(kW * kH), scr_a(kW * kH, 21), full_b(kW * kH, 8), pts(kW * kH, 255);
  for (int y = 0; y < kH; ++y)
    for (int x = 0; x < kW; ++x) full_a[y * kW + x] = x < kW / 2 ? 0 : 15;
  full_a[kW + 1] = 255;
  for (int x = 0; x < kW; ++x) scr_a[x] = 12;
  pts[3 * kW + 3] = 8;
  std::vector<uint16_t> regions(kW * kH);
  for (int i = 0; i < kW * kH; ++i) regions[i] = uint16_t(300 + i);
  for (const std::string id : {"a", "b"}) {
    write_jpg(root + "/JPEGImages/" + id + ".jpg", kW, kH);
    write_gray16_png(root + "/hed/" + id + ".png", kW, kH, regions);
  }
  write_palette_png(root + "/segcls/a.png", kW, kH, full_a);
  write_gray8_png(root + "/segcls/b.png", kW, kH, full_b);
  write_gray8_png(root + "/scribble/dilate_3/a.png", kW, kH, scr_a);
  write_gray8_png(root + "/scribble/dilate_3/b.png", kW, kH, full_b);
  write_gray8_png(root + "/scribble/dilate_3_0.5/a.png", kW, kH,
                  std::vector<uint8_t>(kW * kH, 255));
  write_gray8_png(root + "/scribble/dilate_3_0.5/b.png", kW, kH, full_b);
  write_gray8_png(root + "/scribble/dilate_6_0.0/a.png", kW, kH, pts);
  write_gray8_png(root + "/scribble/dilate_6_0.0/b.png", kW, kH, pts);
  write_gray8_png(root + "/cam/seam/a.png", kW, kH, std::vector<uint8_t>(kW * kH, 3));
  write_gray8_png(root + "/cam/seam/b.png", kW, kH, std::vector<uint8_t>(kW * kH, 255));
  // a: a large person box and a small dog box inside it; b: one cat box, one difficult bird.
  write_text(root + "/Annotations/a.xml",
             box_xml(kW, kH, object("person", 2, 2, 9, 7) + object("dog", 4, 3, 5, 4)));
  write_text(root + "/Annotations/b.xml",
             box_xml(kW, kH, object("cat", 1, 1, 3, 3) + object("bird", 8, 6, 10, 8, true)));
  write_text(root + "/ImageSets/Segmentation/train.txt", "a\nb\n");
  return root;
}

VocConfig config(const std::string& root, Supervision s, const std::string& label_dir = "") {
  VocConfig c;
  c.root = root;
  c.split = "train";
  c.supervision = s;
  c.label_dir = label_dir;
  return c;
}

uint64_t bit(int c) {
  return uint64_t(1) << c;
}

TEST(Voc, FullSupervision) {
  const std::string root = make_dataset("voc_full");
  VocDataset ds(config(root, Supervision::full));
  EXPECT_EQ(ds.size(), 2);
  EXPECT_EQ(ds.num_classes(), 21);
  EXPECT_NE(ds.describe().find("full"), std::string::npos);
  const Sample a = ds.get(0);
  EXPECT_EQ(a.id, "a");
  EXPECT_EQ(a.image.shape(), (engine::Shape{kH, kW, 3}));
  const std::vector<uint8_t> lab = a.label.to_vector<uint8_t>();
  EXPECT_EQ(lab[0], 0);
  EXPECT_EQ(lab[kW - 1], 15);
  EXPECT_EQ(lab[kW + 1], kUnlabeled);
  EXPECT_EQ(a.full_label.to_vector<uint8_t>(), lab);
  EXPECT_EQ(a.tags, bit(15));
  ASSERT_TRUE(a.region.defined());
  EXPECT_EQ(a.region.dtype(), engine::DType::i32);
  EXPECT_EQ(a.region.to_vector<int32_t>()[5], 305);
  EXPECT_EQ(ds.get(1).tags, bit(8));
}

TEST(Voc, ScribblesMapSpmlUnlabeledTo255) {
  const std::string root = make_dataset("voc_scribble");
  VocDataset ds(config(root, Supervision::scribble));
  EXPECT_EQ(ds.label_dir(), "scribble/dilate_3");
  const Sample a = ds.get(0);
  const std::vector<uint8_t> lab = a.label.to_vector<uint8_t>();
  EXPECT_EQ(lab[0], 12);
  EXPECT_EQ(lab[kW], kUnlabeled);  // 21 in the file
  EXPECT_EQ(a.tags, bit(12));      // from the weak label, not the full one
  EXPECT_TRUE(a.full_label.defined());

  VocConfig strict = config(root, Supervision::scribble);
  strict.map_unlabeled_values = false;
  expect_error([&] { VocDataset(strict).get(0); }, {"scribble/dilate_3/a.png", "value 21"});

  VocDataset shorter(config(root, Supervision::scribble, "scribble/dilate_3_0.5"));
  EXPECT_EQ(shorter.get(0).tags, 0u);
  VocDataset points(config(root, Supervision::point));
  const Sample p = points.get(1);
  EXPECT_EQ(p.label.to_vector<uint8_t>()[3 * kW + 3], 8);
  EXPECT_EQ(p.tags, bit(8));
}

TEST(Voc, BoxLabelMapSmallestBoxWins) {
  VocAnnotation ann;
  ann.width = 6;
  ann.height = 4;
  // Big box class 3 over x 1..6, y 1..4 (all); small box class 5 at x 2..3, y 2..3, listed
  // first; an equal-area second box of class 7 at x 3..4, y 2..3 listed after it.
  ann.objects = {{"s", 5, false, 2, 2, 3, 3},
                 {"b", 3, false, 1, 1, 6, 4},
                 {"t", 7, false, 3, 2, 4, 3},
                 {"d", 9, true, 6, 4, 6, 4}};
  const std::vector<uint8_t> want = {3, 3, 3, 3, 3, 3,  //
                                     3, 5, 5, 7, 3, 3,  //
                                     3, 5, 5, 7, 3, 3,  //
                                     3, 3, 3, 3, 3, 3};
  EXPECT_EQ(box_label_map(ann, 4, 6, false).to_vector<uint8_t>(), want);
  std::vector<uint8_t> with_difficult = want;
  with_difficult[23] = 9;
  EXPECT_EQ(box_label_map(ann, 4, 6, true).to_vector<uint8_t>(), with_difficult);
  // Outside every box: background.
  ann.objects = {{"s", 5, false, 2, 2, 3, 3}};
  const std::vector<uint8_t> one = box_label_map(ann, 4, 6, true).to_vector<uint8_t>();
  EXPECT_EQ(one[0], 0);
  EXPECT_EQ(one[7], 5);
  EXPECT_EQ(tags_from_objects(ann), bit(5));
}

TEST(Voc, BoxSupervisionFromXmlAndFromCam) {
  const std::string root = make_dataset("voc_box");
  VocDataset ds(config(root, Supervision::box));
  const Sample a = ds.get(0);
  const std::vector<uint8_t> lab = a.label.to_vector<uint8_t>();
  EXPECT_EQ(lab[0], 0);            // outside the boxes
  EXPECT_EQ(lab[1 * kW + 1], 15);  // x 2, y 2 (1-based): person
  EXPECT_EQ(lab[2 * kW + 3], 12);  // x 4, y 3: the smaller dog box
  EXPECT_EQ(lab[7 * kW + 9], 0);   // x 10, y 8: outside
  EXPECT_EQ(a.tags, bit(15) | bit(12));
  const Sample b = ds.get(1);
  EXPECT_EQ(b.tags, bit(8) | bit(2 + 1));  // difficult bird (3) still a tag
  EXPECT_EQ(b.label.to_vector<uint8_t>()[kW * kH - 1], 3);
  VocConfig no_difficult = config(root, Supervision::box);
  no_difficult.box_include_difficult = false;
  EXPECT_EQ(VocDataset(no_difficult).get(1).label.to_vector<uint8_t>()[kW * kH - 1], 0);

  VocDataset cam(config(root, Supervision::box, "cam/seam"));
  const Sample ca = cam.get(0);
  EXPECT_EQ(ca.label.to_vector<uint8_t>()[0], 3);  // the CAM file, not the boxes
  EXPECT_EQ(ca.tags, bit(15) | bit(12));           // tags still from the XML
}

TEST(Voc, TagSupervision) {
  const std::string root = make_dataset("voc_tag");
  VocDataset ds(config(root, Supervision::tag));
  const Sample a = ds.get(0);
  for (uint8_t v : a.label.to_vector<uint8_t>()) ASSERT_EQ(v, kUnlabeled);
  EXPECT_EQ(a.tags, bit(15) | bit(12));
  VocDataset cam(config(root, Supervision::tag, "cam/seam"));
  EXPECT_EQ(cam.get(0).label.to_vector<uint8_t>()[5], 3);
  // Without XML the tags come from the full labels.
  std::filesystem::remove_all(root + "/Annotations");
  VocDataset from_gt(config(root, Supervision::tag));
  EXPECT_EQ(from_gt.get(0).tags, bit(15));
  EXPECT_EQ(from_gt.get(1).tags, bit(8));
}

TEST(Voc, ClassesFileAndNoRegions) {
  const std::string root = make_dataset("voc_classes");
  std::filesystem::remove_all(root + "/hed");
  std::string names;
  for (int i = 0; i < 16; ++i) names += fmt::format("c{}\n", i);
  write_text(root + "/classes.txt", names);
  VocDataset ds(config(root, Supervision::full));
  EXPECT_EQ(ds.num_classes(), 16);
  const Sample a = ds.get(0);
  EXPECT_FALSE(a.region.defined());
  EXPECT_EQ(a.tags, bit(15));
  EXPECT_EQ(ds.get(1).tags, bit(8));
  // Box supervision checks XML names against classes.txt.
  expect_error([&] { VocDataset(config(root, Supervision::box)); },
               {"Annotations/a.xml", "person", "unknown class"});
}

TEST(Voc, MissingListEntriesAtConstruction) {
  const std::string root = make_dataset("voc_missing");
  write_text(root + "/ImageSets/Segmentation/train.txt", "a\nb\nghost\n");
  expect_error([&] { VocDataset(config(root, Supervision::full)); },
               {"train.txt", "line 3", "ghost", "JPEGImages/ghost.jpg", "does not exist"});
  write_text(root + "/ImageSets/Segmentation/train.txt", "a\nb\n");
  std::filesystem::remove(root + "/scribble/dilate_3/b.png");
  expect_error([&] { VocDataset(config(root, Supervision::scribble)); },
               {"line 2", "scribble label", "scribble/dilate_3/b.png"});
  std::filesystem::remove(root + "/hed/a.png");
  expect_error([&] { VocDataset(config(root, Supervision::full)); },
               {"line 1", "region map", "hed/a.png"});
  write_text(root + "/ImageSets/Segmentation/val.txt", "\n");
  VocConfig val = config(root, Supervision::full);
  val.split = "val";
  expect_error([&] { VocDataset{val}; }, {"val.txt", "no image ids"});
  val.split = "test";
  expect_error([&] { VocDataset{val}; }, {"test.txt", "does not exist"});
  expect_error([&] { VocDataset(config(root, Supervision::scribble, "scribble/nope")); },
               {"scribble/nope", "does not exist"});
  expect_error([&] { VocDataset(config(root + "/nope", Supervision::full)); },
               {"nope", "not a directory"});
}

TEST(Voc, WrongSizeLabelAndRegion) {
  const std::string root = make_dataset("voc_size");
  write_gray8_png(root + "/segcls/b.png", kW + 1, kH, std::vector<uint8_t>((kW + 1) * kH, 0));
  VocDataset ds(config(root, Supervision::full));
  expect_error([&] { ds.get(1); }, {"segcls/b.png", "11x8", "JPEGImages/b.jpg", "10x8"});
  write_gray16_png(root + "/hed/a.png", kW, kH - 2, std::vector<uint16_t>(kW * (kH - 2), 1));
  expect_error([&] { ds.get(0); }, {"hed/a.png", "10x6", "JPEGImages/a.jpg", "10x8"});
  // RGB labels are refused by name.
  write_rgb_png(root + "/segcls/a.png", kW, kH, std::vector<uint8_t>(kW * kH * 3, 0));
  expect_error([&] { ds.get(0); }, {"segcls/a.png", "RGB"});
  // A truncated image fails when read, naming it.
  truncate_file(root + "/JPEGImages/b.jpg", 100);
  expect_error([&] { ds.get(1); }, {"JPEGImages/b.jpg", "truncated"});
}

TEST(Voc, MalformedXml) {
  const std::string dir = scratch_dir("voc_xml");
  const auto& names = voc_class_names();
  const auto check = [&](const std::string& text, const std::vector<std::string>& parts) {
    write_text(dir + "/x.xml", text);
    std::vector<std::string> all = parts;
    all.push_back(dir + "/x.xml");
    expect_error([&] { read_voc_xml(dir + "/x.xml", names); }, all);
  };
  check("<annotation><size><width>10</width>", {"malformed XML"});
  check("<annotation><object><name>cat</name></object></annotation>", {"no <size>"});
  check(box_xml(10, 8, "<object><name>cat</name><difficult>0</difficult></object>"),
        {"object 1 ('cat')", "no <bndbox>"});
  check(box_xml(10, 8,
                "<object><name>cat</name><bndbox><xmin>a1</xmin><ymin>1</ymin><xmax>3</xmax>"
                "<ymax>3</ymax></bndbox></object>"),
        {"<xmin>", "not a number", "a1"});
  check(box_xml(10, 8,
                "<object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>3</xmax>"
                "</bndbox></object>"),
        {"no <ymax>"});
  check(box_xml(10, 8, object("cat", 2, 2, 11, 5)), {"outside the 10x8 image"});
  check(box_xml(10, 8, object("cat", 5, 2, 4, 5)), {"empty or outside"});
  check(box_xml(10, 8, object("unicorn", 1, 1, 2, 2)), {"'unicorn'", "unknown class"});
  check(box_xml(0, 8, ""), {"not positive"});
  check("<other/>", {"no <annotation>"});
  expect_error([&] { read_voc_xml(dir + "/none.xml", names); }, {"none.xml", "does not exist"});
  // VOC's own quirks: fractional coordinates and 0 are accepted.
  write_text(dir + "/ok.xml", box_xml(10, 8,
                                      "<object><name>cat</name><bndbox><xmin>0</xmin><ymin>1.4"
                                      "</ymin><xmax>9.6</xmax><ymax>8</ymax></bndbox></object>"));
  const VocAnnotation ok = read_voc_xml(dir + "/ok.xml", names);
  ASSERT_EQ(ok.objects.size(), 1u);
  EXPECT_EQ(ok.objects[0].class_id, 8);
  EXPECT_EQ(ok.objects[0].xmin, 1);
  EXPECT_EQ(ok.objects[0].ymin, 1);
  EXPECT_EQ(ok.objects[0].xmax, 10);
  EXPECT_FALSE(ok.objects[0].difficult);
  // A dataset whose XML is malformed fails at construction.
  const std::string root = make_dataset("voc_xml_ds");
  write_text(root + "/Annotations/b.xml", "<annotation><size>");
  expect_error([&] { VocDataset(config(root, Supervision::box)); },
               {"Annotations/b.xml", "malformed"});
  EXPECT_NO_THROW(VocDataset(config(root, Supervision::scribble)));
}

TEST(Voc, SupervisionNames) {
  for (Supervision s : {Supervision::full, Supervision::scribble, Supervision::point,
                        Supervision::box, Supervision::tag})
    EXPECT_EQ(parse_supervision(supervision_name(s)), s);
  expect_error([] { parse_supervision("boxes"); }, {"'boxes'", "scribble"});
  EXPECT_EQ(tags_from_label(engine::Tensor::from_vector<uint8_t>({0, 1, 21, 255, 20}, {5}), 21),
            bit(1) | bit(20));
}

}  // namespace
}  // namespace data
