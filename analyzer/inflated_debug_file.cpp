#include "inflated_debug_file.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <elf.h>
#include <libdeflate.h>
#include <memory>
#include <optional>
#include <sys/mman.h>
#include <sys/stat.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <vector>

namespace memtrace {
namespace {

// Bounds on what a debug file may ask for: a compressed section of more than 4 GiB inflated is
// not one (and would exhaust memory first).
constexpr uint64_t kMaxInflatedSection = uint64_t{4} << 30;

uint64_t align_up(uint64_t value, uint64_t alignment) {
    if (alignment <= 1) return value;
    return (value + alignment - 1) / alignment * alignment;
}

class Mapping {
public:
    Mapping(void* data, size_t size) : data_(data), size_(size) {
    }
    ~Mapping() {
        if (data_ != MAP_FAILED) ::munmap(data_, size_);
    }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    bool ok() const {
        return data_ != MAP_FAILED;
    }
    unsigned char* bytes() const {
        return static_cast<unsigned char*>(data_);
    }

private:
    void* data_;
    size_t size_;
};

// Where each section goes in the copy.
struct Placement {
    Elf64_Shdr header;   // as written
    uint64_t source = 0; // offset of its bytes in the file (after the Chdr when compressed)
    uint64_t source_size = 0;
    bool inflate = false;
};

bool in_file(uint64_t offset, uint64_t size, uint64_t file_size) {
    return offset <= file_size && size <= file_size - offset;
}

} // namespace

int inflated_debug_copy(int fd, uint64_t second_thread_bytes) {
    struct stat info;
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) return -1;
    const auto file_size = static_cast<uint64_t>(info.st_size);
    if (file_size < sizeof(Elf64_Ehdr)) return -1;
    Mapping file(::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0), file_size);
    if (!file.ok()) return -1;
    const unsigned char* in = file.bytes();

    Elf64_Ehdr ehdr;
    std::memcpy(&ehdr, in, sizeof(ehdr));
    if (std::memcmp(ehdr.e_ident, ELFMAG, SELFMAG) != 0 || ehdr.e_ident[EI_CLASS] != ELFCLASS64 ||
        ehdr.e_ident[EI_DATA] !=
            (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB) ||
        ehdr.e_shentsize != sizeof(Elf64_Shdr) || ehdr.e_shnum == 0 ||
        ehdr.e_shstrndx == SHN_XINDEX ||
        !in_file(ehdr.e_shoff, uint64_t{ehdr.e_shnum} * sizeof(Elf64_Shdr), file_size) ||
        (ehdr.e_phnum != 0 &&
         (ehdr.e_phentsize != sizeof(Elf64_Phdr) ||
          !in_file(ehdr.e_phoff, uint64_t{ehdr.e_phnum} * sizeof(Elf64_Phdr), file_size)))) {
        return -1;
    }

    const uint64_t source_phoff = ehdr.e_phoff;
    // The layout of the copy: header, program headers, the sections in their order, then the
    // section headers.
    uint64_t end = sizeof(Elf64_Ehdr);
    const uint64_t phoff = ehdr.e_phnum != 0 ? end : 0;
    end += uint64_t{ehdr.e_phnum} * sizeof(Elf64_Phdr);
    std::vector<Placement> sections(ehdr.e_shnum);
    size_t compressed = 0;
    for (size_t i = 0; i < sections.size(); ++i) {
        Placement& section = sections[i];
        std::memcpy(&section.header, in + ehdr.e_shoff + i * sizeof(Elf64_Shdr),
                    sizeof(Elf64_Shdr));
        Elf64_Shdr& header = section.header;
        if (i == 0 || header.sh_type == SHT_NOBITS || header.sh_type == SHT_NULL) continue;
        if (!in_file(header.sh_offset, header.sh_size, file_size)) return -1;
        section.source = header.sh_offset;
        section.source_size = header.sh_size;
        if ((header.sh_flags & SHF_COMPRESSED) != 0) {
            Elf64_Chdr chdr;
            if (header.sh_size < sizeof(chdr)) return -1;
            std::memcpy(&chdr, in + header.sh_offset, sizeof(chdr));
            if (chdr.ch_type != ELFCOMPRESS_ZLIB || chdr.ch_size > kMaxInflatedSection) return -1;
            section.inflate = true;
            section.source += sizeof(chdr);
            section.source_size -= sizeof(chdr);
            header.sh_flags &= ~static_cast<Elf64_Xword>(SHF_COMPRESSED);
            header.sh_size = chdr.ch_size;
            header.sh_addralign = chdr.ch_addralign;
            ++compressed;
        }
        end = align_up(end, header.sh_addralign);
        header.sh_offset = end;
        end += header.sh_size;
    }
    if (compressed == 0) return -1;
    const uint64_t shoff = align_up(end, 8);
    end = shoff + sections.size() * sizeof(Elf64_Shdr);

    const int copy = ::memfd_create("memtrace-debuginfo", MFD_CLOEXEC);
    if (copy < 0) return -1;
    bool ok = ::ftruncate(copy, static_cast<off_t>(end)) == 0;
    if (ok) {
        // Populated at once: faulting 10 MiB of shared memory in page by page cost more.
        Mapping out_map(
            ::mmap(nullptr, end, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, copy, 0), end);
        ok = out_map.ok();
        unsigned char* out = ok ? out_map.bytes() : nullptr;
        if (ok) {
            ehdr.e_phoff = phoff;
            ehdr.e_shoff = shoff;
            std::memcpy(out, &ehdr, sizeof(ehdr));
            if (ehdr.e_phnum != 0) {
                std::memcpy(out + phoff, in + source_phoff,
                            uint64_t{ehdr.e_phnum} * sizeof(Elf64_Phdr));
            }
        }
        // The sections to inflate in two shares of about equal size, one for a second thread:
        // the symbolizer runs when the replay is done, with the other core idle.
        std::vector<size_t> shares[2];
        uint64_t share_bytes[2] = {0, 0};
        std::vector<size_t> by_size;
        for (size_t i = 0; ok && i < sections.size(); ++i) {
            const Placement& section = sections[i];
            std::memcpy(out + shoff + i * sizeof(Elf64_Shdr), &section.header, sizeof(Elf64_Shdr));
            if (section.inflate) {
                by_size.push_back(i);
            } else if (section.source_size != 0) {
                std::memcpy(out + section.header.sh_offset, in + section.source,
                            section.source_size);
            }
        }
        std::sort(by_size.begin(), by_size.end(), [&](size_t a, size_t b) {
            return sections[a].header.sh_size > sections[b].header.sh_size;
        });
        for (size_t i : by_size) {
            const int share = share_bytes[0] <= share_bytes[1] ? 0 : 1;
            shares[share].push_back(i);
            share_bytes[share] += sections[i].header.sh_size;
        }
        auto inflate_share = [&](const std::vector<size_t>& share) {
            std::unique_ptr<libdeflate_decompressor, decltype(&libdeflate_free_decompressor)>
                decompressor(libdeflate_alloc_decompressor(), &libdeflate_free_decompressor);
            if (!decompressor) return false;
            for (size_t i : share) {
                const Placement& section = sections[i];
                // The exact size the header promised, or the file is not used.
                if (libdeflate_zlib_decompress(decompressor.get(), in + section.source,
                                               section.source_size, out + section.header.sh_offset,
                                               section.header.sh_size,
                                               nullptr) != LIBDEFLATE_SUCCESS) {
                    return false;
                }
            }
            return true;
        };
        if (ok) {
            bool second_ok = true;
            std::optional<std::thread> second;
            if (share_bytes[0] + share_bytes[1] > second_thread_bytes && !shares[1].empty()) {
                try {
                    second.emplace([&] { second_ok = inflate_share(shares[1]); });
                } catch (const std::system_error&) {
                    second.reset(); // no thread: this one does both shares
                }
            }
            ok = inflate_share(shares[0]);
            if (second) {
                second->join();
            } else {
                second_ok = inflate_share(shares[1]);
            }
            ok = ok && second_ok;
        }
    }
    if (!ok) {
        ::close(copy);
        return -1;
    }
    return copy;
}

} // namespace memtrace
