/* The floor of the pcap read path: open a capture file and call pcap_next_ex on every
 * record, touching nothing but the record length. Prints the packet and byte counts. */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv) {
    char err[PCAP_ERRBUF_SIZE];
    if (argc != 2) {
        fprintf(stderr, "usage: bareloop FILE\n");
        return 2;
    }
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (!p) {
        fprintf(stderr, "bareloop: %s\n", err);
        return 1;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    unsigned long long packets = 0, bytes = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        packets++;
        bytes += h->caplen;
    }
    if (rc == PCAP_ERROR) {
        fprintf(stderr, "bareloop: %s\n", pcap_geterr(p));
        return 1;
    }
    printf("packets=%llu bytes=%llu\n", packets, bytes);
    pcap_close(p);
    return 0;
}
