"""The referral network (word of mouth): who brought whom, how far each member's referrals
spread, and the members whose network is worth more than they are themselves.

* :mod:`memberlens.referrals.graph` — which referrals count (self-referrals, a member referred
  twice, loops), and the compressed edge list;
* :mod:`memberlens.referrals.cascades` — everyone below each member, by joins in the engine;
* :mod:`memberlens.referrals.influence` — PageRank and the decayed referral value (SciPy);
* :mod:`memberlens.referrals.program` — the program: referred against organic customers,
  conversion, reward cost per referred buyer;
* :mod:`memberlens.referrals.key_referrers` — the key members, with the reason in words.
"""
