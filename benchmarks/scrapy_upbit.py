# The Scrapy side of benchmarks/crawl_throughput.sh: the same pages, fetched
# and parsed into the same market items (symbol, price, 24h volume, 24h
# change, timestamp) that cointicker's upbit parser produces. Items go
# nowhere (no feed export), as the crawl_bench side counts instead of
# producing to Kafka. Run: scrapy runspider scrapy_upbit.py -a urls=FILE
import json
import resource
import time

import scrapy


class UpbitSpider(scrapy.Spider):
    name = "upbit_bench"
    custom_settings = {
        "CONCURRENT_REQUESTS": 32,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
        "DOWNLOAD_DELAY": 0,
        "ROBOTSTXT_OBEY": False,
        "AUTOTHROTTLE_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "COOKIES_ENABLED": False,
        "RETRY_ENABLED": False,
    }

    def __init__(self, urls, **kw):
        super().__init__(**kw)
        with open(urls) as f:
            self.start_urls = [u.strip() for u in f if u.strip()]
        self.items = 0
        self.pages = 0
        self.t0 = None

    def start_requests(self):
        self.t0 = time.monotonic()
        for u in self.start_urls:
            yield scrapy.Request(u, callback=self.parse, dont_filter=True)

    def parse(self, response):
        self.pages += 1
        for t in json.loads(response.text):
            self.items += 1
            yield {
                "symbol": t["market"],
                "price": t.get("trade_price"),
                "volume_24h": t.get("acc_trade_volume_24h"),
                "change_24h": t.get("signed_change_rate"),
                "timestamp": t.get("timestamp"),
            }

    def closed(self, reason):
        secs = time.monotonic() - self.t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"pages {self.pages} records {self.items} seconds {secs:.3f} pages_per_s {self.pages / secs:.1f} "
              f"records_per_s {self.items / secs:.1f} peak_rss_kb {rss}", flush=True)
