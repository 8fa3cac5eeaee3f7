"""Currencies (ISO 4217) and rounding of amounts."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# Active ISO 4217 codes (2024 list). Funds and precious-metal codes are left out on purpose:
# no hotel sells a night in XAU.
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
    SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()
)

CENT = Decimal("0.01")


def is_currency(code: str) -> bool:
    return code in ISO_4217


def round_money(amount: Decimal) -> Decimal:
    """Two decimals, half up, as hotels and channels round."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
