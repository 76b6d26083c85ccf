"""Feeds in the shapes found in the wild: RSS 2.0, Atom, arXiv RSS, broken XML, an HTML page, HF daily JSON."""

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Paper Reviews</title><link>https://reviews.example.org</link>
<item><title>Review: Latent Diffusion Models &amp; friends</title>
<link>https://reviews.example.org/posts/ldm/?utm_source=rss</link>
<description>&lt;p&gt;We read &lt;b&gt;Latent Diffusion&lt;/b&gt; (arXiv link below).&lt;/p&gt;</description>
<guid>https://arxiv.org/abs/2112.10752v2</guid><pubDate>Tue, 02 May 2023 09:00:00 GMT</pubDate></item>
<item><title>A blog post on efficient attention</title><link>https://reviews.example.org/posts/attention/#top</link>
<description>Notes on linear attention and sparse attention for long context LLMs.</description>
<pubDate>Wed, 03 May 2023 10:00:00 GMT</pubDate><author>ed@example.org (Ed Itor)</author></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Lab blog</title><id>urn:lab</id><updated>2023-05-04T00:00:00Z</updated>
<entry><title>Our new paper on 4-bit quantization</title><id>urn:lab:1</id>
<link href="https://arxiv.org/pdf/2305.00003v1.pdf"/><updated>2023-05-04T12:00:00Z</updated>
<author><name>Ada Lovelace</name></author><summary>Read it.</summary></entry>
</feed>"""

ARXIV_RSS = """<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">
<channel><title>cs.CV updates on arXiv.org</title><link>http://rss.arxiv.org/rss/cs.CV</link>
<item><title>A Vision-Language Model for Charts</title><link>https://arxiv.org/abs/2305.00002</link>
<description>arXiv:2305.00002v1 Announce Type: new
Abstract: We present a multimodal model for charts.</description>
<guid isPermaLink="false">oai:arXiv.org:2305.00002v1</guid><category>cs.CV</category>
<pubDate>Wed, 03 May 2023 00:00:00 -0400</pubDate><arxiv:announce_type>new</arxiv:announce_type>
<dc:creator>Grace Hopper, Alan Turing</dc:creator></item>
</channel></rss>"""

BROKEN = """<?xml version="1.0"?><rss version="2.0"><channel><title>Broken</title>
<item><title>Half an item</title><link>https://example.org/a</link></item><item><title>unclosed"""

HTML_PAGE = "<!DOCTYPE html><html><head><title>Not a feed</title></head><body><p>Hello</p></body></html>"

HF_DAY = """[{"paper": {"id": "2305.00001", "title": "Efficient Diffusion\\n  Sampling", "summary": "We propose.",
 "authors": [{"name": "Zesen Cheng"}, {"name": "Hang Zhang"}], "publishedAt": "2023-05-01T17:59:30.000Z",
 "upvotes": 64}, "publishedAt": "2023-05-02T00:57:09.392Z", "title": "Efficient Diffusion Sampling"}]"""
