/*
 * The parse floor: what simdjson, the fastest JSON parser we know of, takes
 * to read the same lines and decide them, writing nothing.
 *
 *     g++ -O3 -o simdjson_floor tools/simdjson_floor.cpp $(pkg-config --cflags --libs simdjson)
 *     ./simdjson_floor THRESHOLD FILE...
 *
 * Each file is read in pieces of whole lines (about 1 MiB, into one buffer
 * used again and again, as jsonfilter reads), and simdjson's DOM parser
 * (parse_many) parses every line of a piece, which checks all of it
 * (structure, strings, UTF-8, numbers); then index + total is compared with
 * THRESHOLD. It prints the count of lines read and of lines selected, so the
 * harness can check it decided what jsonfilter decided. It needs the Debian
 * package libsimdjson-dev; the harness leaves the row out without it.
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <simdjson.h>
#include <vector>

static const size_t PIECE = 1 << 20;

int main(int argc, char **argv)
{
    if (argc < 3) {
        std::fprintf(stderr, "usage: simdjson_floor THRESHOLD FILE...\n");
        return 2;
    }
    double threshold = std::strtod(argv[1], nullptr);
    unsigned long long lines = 0, selected = 0;
    simdjson::dom::parser parser;
    /* Room for a piece, a line carried over, and simdjson's padding. */
    std::vector<char> buffer(4 * PIECE + simdjson::SIMDJSON_PADDING);
    for (int i = 2; i < argc; i++) {
        std::FILE *file = std::fopen(argv[i], "rb");
        if (file == nullptr) {
            std::fprintf(stderr, "simdjson_floor: %s: cannot open\n", argv[i]);
            return 2;
        }
        size_t held = 0;  /* bytes of a line not yet ended, at the buffer's start */
        for (;;) {
            size_t got = std::fread(buffer.data() + held, 1, PIECE, file);
            size_t have = held + got;
            size_t whole = have;
            if (got != 0) {
                while (whole > 0 && buffer[whole - 1] != '\n')
                    whole--;
                if (whole == 0 && have + PIECE > buffer.size() - simdjson::SIMDJSON_PADDING) {
                    std::fprintf(stderr, "simdjson_floor: %s: a line longer than the buffer\n", argv[i]);
                    return 2;
                }
            }
            if (whole > 0) {
                simdjson::dom::document_stream docs;
                if (parser.parse_many(reinterpret_cast<const uint8_t *>(buffer.data()), whole, PIECE).get(docs)) {
                    std::fprintf(stderr, "simdjson_floor: %s: cannot parse\n", argv[i]);
                    return 2;
                }
                for (auto doc : docs) {
                    double index, total;
                    if (doc["index"].get_double().get(index) || doc["total"].get_double().get(total)) {
                        std::fprintf(stderr, "simdjson_floor: %s: line %llu: not a record of two numbers\n",
                                     argv[i], lines + 1);
                        return 2;
                    }
                    lines++;
                    selected += index + total > threshold;
                }
            }
            std::memmove(buffer.data(), buffer.data() + whole, have - whole);
            held = have - whole;
            if (got == 0)
                break;
        }
        std::fclose(file);
    }
    std::printf("%llu %llu\n", lines, selected);
    return 0;
}
