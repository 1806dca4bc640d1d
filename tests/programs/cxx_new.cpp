// Leaks through operator new, operator new[] and the buffers of a std::vector and a
// std::string that live inside a leaked object:
//   demo::make_widget()              new Widget            64 bytes
//   demo::make_numbers()             new int[250]          1000 bytes
//   demo::fill_widget(demo::Widget*) values.reserve(300)   1200 bytes
//                                    label.reserve(200)    201 bytes (capacity + terminator)
// A second Widget is built, filled and deleted, so none of its blocks are live.
#include <string>
#include <vector>

namespace demo {

struct Widget {
    long id = 0;
    std::vector<int> values;
    std::string label;
};
static_assert(sizeof(Widget) == 64, "the test expects a 64-byte Widget");

__attribute__((noinline)) Widget* make_widget() {
    return new Widget; /* site: make_widget */
}

__attribute__((noinline)) int* make_numbers() {
    return new int[250]; /* site: make_numbers */
}

__attribute__((noinline)) void fill_widget(Widget* widget) {
    widget->values.reserve(300); /* site: fill_widget_values */
    widget->label.reserve(200);  /* site: fill_widget_label */
    widget->values.push_back(1);
    widget->label += "widget";
}

} // namespace demo

demo::Widget* volatile kept_widget;
int* volatile kept_numbers;

int main() {
    demo::Widget* temporary = demo::make_widget();
    demo::fill_widget(temporary);
    delete temporary;

    kept_widget = demo::make_widget();
    demo::fill_widget(kept_widget);
    kept_numbers = demo::make_numbers();
    return 0;
}
