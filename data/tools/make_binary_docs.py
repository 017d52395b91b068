#!/usr/bin/env python3
"""Build the PDF and DOCX documents of the sample corpus (data/corpus).

Standard library only.  PDFs are minimal but valid PDF 1.4 files: Helvetica /
Helvetica-Bold Type1 base fonts with WinAnsiEncoding, uncompressed content
streams, one positioned text line per ``Tm``/``Tj`` so text extractors (pypdf,
pdftotext) return one output line per visual line, and a correct xref table.
DOCX files are minimal OOXML packages (content types, relationships,
document.xml, styles.xml, core properties) readable by python-docx.

All content is fictional.  Run from anywhere:

    python3 data/tools/make_binary_docs.py

The output is deterministic (fixed dates in metadata, fixed zip timestamps),
so re-running it does not create spurious diffs.
"""
from __future__ import annotations

import textwrap
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

# ---------------------------------------------------------------------------
# Document content.  Blocks: ("title", text) | ("h", text) | ("p", text) |
# ("page",) for an explicit page break.  ``footer`` is printed on every page
# together with "Page n of m".
# ---------------------------------------------------------------------------

PDF_DOCS: dict[str, dict] = {}
DOCX_DOCS: dict[str, dict] = {}

PDF_DOCS["public/acme-insights-datasheet.pdf"] = {
    "title": "Acme Insights Datasheet",
    "footer": "Acme Corp - Public",
    "blocks": [
        ("title", "Acme Insights - Product Datasheet"),
        ("p", "Acme Insights is the analytics dashboard for merchants who accept payments with ACME Payments. "
              "It is built on the same transaction records that Ledger Sync posts to the general ledger."),
        ("h", "Key capabilities"),
        ("p", "Revenue overview with gross volume, net revenue after fees and refunds, and year-over-year growth."),
        ("p", "Cohort retention charts that show how many first-time customers return within 30, 60 and 90 days."),
        ("p", "A refund-rate monitor that alerts merchants to unusual spikes in refunds or chargebacks."),
        ("p", "A 30-day payout forecast based on payment history, payout schedule and open refunds."),
        ("h", "Data freshness"),
        ("p", "Dashboards are refreshed every hour from ACME Payments data."),
        ("p", "The payout forecast is recalculated every night at 03:00 UTC."),
        ("h", "Availability and security"),
        ("p", "Acme Insights targets 99.9% monthly availability for the dashboard."),
        ("p", "Enterprise customers can sign in with SAML single sign-on and enforce hardware security keys."),
        ("p", "All data is encrypted in transit with TLS 1.2 or higher and at rest with AES-256."),
        ("h", "Plans"),
        ("p", "Starter is free for every ACME Payments merchant. Growth costs $299 per month. "
              "Enterprise pricing is agreed individually and includes a dedicated success manager."),
        ("h", "Regions"),
        ("p", "Acme Insights is available in the United States, Canada, the United Kingdom and the European Union."),
    ],
}

PDF_DOCS["engineering/incident-response-process.pdf"] = {
    "title": "Incident Response Process",
    "footer": "Acme Corp - Internal - Engineering",
    "blocks": [
        ("title", "Incident Response Process"),
        ("p", "Version 3.0, March 2024. Owners: Platform Team and Security Team. Approved by Priya Raman, CTO."),
        ("h", "1. Purpose"),
        ("p", "This process defines how Acme Corp detects, declares, manages and learns from incidents that "
              "affect ACME Payments, Ledger Sync, Acme Insights or internal systems such as Orion, Atlas, "
              "Beacon and Vault-7. It applies to every engineer on an on-call rotation."),
        ("h", "2. Severity levels"),
        ("p", "SEV1: customer-facing outage or severe degradation of a Tier 0 service, such as failing card payments, "
              "or any confirmed data breach."),
        ("p", "SEV2: significant degradation of a Tier 1 service, or a partial outage of a Tier 0 service "
              "with a workaround."),
        ("p", "SEV3: minor customer impact, for example a slow dashboard or a delayed report."),
        ("p", "SEV4: internal impact only, with no effect on customers."),
        ("h", "3. Roles"),
        ("p", "Incident commander: coordinates the response, decides on mitigations and owns communication with "
              "executives. The first responder is incident commander until the role is handed over explicitly."),
        ("p", "Communications lead: writes status page updates and informs customer support."),
        ("p", "Scribe: keeps the timeline in the incident channel."),
        ("p", "Subject-matter experts: engineers from the owning teams, paged through Beacon."),
        ("page",),
        ("h", "4. Notification deadlines"),
        ("p", "For a SEV1, the CTO and the on-duty executive must be notified within 15 minutes of declaration."),
        ("p", "The public status page must be updated within 30 minutes for SEV1 incidents."),
        ("p", "The public status page must be updated within 60 minutes for SEV2 incidents."),
        ("p", "During a SEV1, status updates are posted at least every 30 minutes until resolution."),
        ("h", "5. Security incidents"),
        ("p", "Suspected data breaches are handled by the Security Team under the same process."),
        ("p", "Legal must be informed within one hour of a suspected personal data breach."),
        ("p", "The General Counsel decides on notification to regulators, which may be required within 72 hours."),
        ("h", "6. Postmortems"),
        ("p", "A blameless postmortem is required for every SEV1 and SEV2 incident."),
        ("p", "The postmortem must be published within five business days after resolution."),
        ("p", "Action items from a SEV1 postmortem are due within 30 days unless the CTO agrees otherwise."),
        ("p", "Postmortems are reviewed in the weekly reliability meeting run by the Platform Team."),
        ("h", "7. Closing an incident"),
        ("p", "The incident commander closes the incident when customer impact has ended and monitoring "
              "in Beacon confirms normal behaviour for at least 30 minutes."),
    ],
}

PDF_DOCS["hr/employee-record-hannah-whitfield.pdf"] = {
    "title": "Employee Record - Hannah Whitfield",
    "footer": "CONFIDENTIAL - People Operations - Personal data",
    "blocks": [
        ("title", "Employee Record: Hannah Whitfield"),
        ("p", "CONFIDENTIAL - personal data. Record owner: People Operations. Last updated: 2 December 2024."),
        ("h", "Personal details"),
        ("p", "Full name: Hannah Whitfield"),
        ("p", "Employee id: EMP-11532"),
        ("p", "Date of birth: 27 February 1993"),
        ("p", "Social Security number: 412-73-8856"),
        ("p", "Home address: 1184 Juniper Court, Apt 3B, Lakeport, WA 98951"),
        ("p", "Personal e-mail: hannah.w.home@mailbox.example"),
        ("p", "Personal phone: +1-555-0129"),
        ("p", "Emergency contact: Robert Whitfield (father), +1-555-0121"),
        ("h", "Employment"),
        ("p", "Position: Backend Engineer, Payments Team, level L4"),
        ("p", "Manager: Sofia Marchetti, Payments Team Lead"),
        ("p", "Start date: 15 August 2022"),
        ("p", "Employment type: full-time, exempt. Office: Lakeport."),
        ("h", "Compensation and payroll"),
        ("p", "Base salary: $128,500 per year, effective 1 January 2024"),
        ("p", "Target bonus: 10% of base salary"),
        ("p", "Direct deposit: Lakeport Federal Credit Union, account ending 4471"),
        ("p", "Retirement plan: 401(k), employee contribution 6%"),
        ("page",),
        ("h", "Employment history"),
        ("p", "15 August 2022: joined Acme Corp as Engineer (L3) in the Payments Team."),
        ("p", "1 January 2024: promoted to Backend Engineer (L4)."),
        ("p", "April 2024: completed her first week as primary on the payments-primary rotation."),
        ("p", "September 2024: covered the payments-primary on-call rotation for a colleague on medical leave."),
        ("p", "November 2024: onboarding buddy for a new Payments Team hire."),
        ("h", "Leave"),
        ("p", "2024 vacation: 21 of 28 days taken. No sick leave recorded in 2024."),
        ("h", "Documents on file"),
        ("p", "Signed offer letter, Form I-9 verification, W-4 withholding form, direct deposit authorisation, "
              "Code of Conduct acknowledgements for 2023 and 2024."),
        ("h", "Notes"),
        ("p", "Access to this record is limited to People Operations and the employee's manager."),
    ],
}

PDF_DOCS["finance/vendor-invoice-nimbus-2024-11.pdf"] = {
    "title": "Invoice NCH-2024-1107 - Nimbus Cloud Hosting Inc.",
    "footer": "Nimbus Cloud Hosting Inc. - Invoice NCH-2024-1107",
    "blocks": [
        ("title", "INVOICE NCH-2024-1107"),
        ("p", "Nimbus Cloud Hosting Inc., 900 Cumulus Way, Suite 1200, Cirrus Bay, CA 94999"),
        ("p", "Billing contact: billing@nimbus-cloud.example"),
        ("h", "Bill to"),
        ("p", "Acme Corp, Accounts Payable, 500 Harbor Point Drive, Lakeport"),
        ("p", "Attention: Fatima Al-Sayed. Technical contact: Tomasz Kowalczyk."),
        ("h", "Invoice details"),
        ("p", "Invoice date: 1 December 2024"),
        ("p", "Service period: 1 November 2024 to 30 November 2024"),
        ("p", "Contract reference: MSA-2023-014"),
        ("p", "Payment terms: net 45 days. Due date: 15 January 2025."),
        ("h", "Line items"),
        ("p", "1. Compute for Payments Service clusters, us-east and eu-central: $71,480.00"),
        ("p", "2. Orion broker nodes, 12 nodes including 2 nodes added in October: $38,920.00"),
        ("p", "3. Atlas database instances, replicas and storage: $46,310.00"),
        ("p", "4. Beacon metrics and log storage: $18,640.00"),
        ("p", "5. Vault-7 HSM-backed key service: $6,200.00"),
        ("p", "6. Network egress: $12,450.00"),
        ("p", "Subtotal after contract discount: $194,000.00"),
        ("p", "Service credit for the October availability breach in eu-central (10% of $96,800.00): -$9,680.00"),
        ("p", "Total due: $184,320.00"),
        ("h", "Remittance"),
        ("p", "Pay by ACH to Nimbus Cloud Hosting Inc., account ending 7730. Please quote NCH-2024-1107."),
        ("p", "Questions about this invoice: billing@nimbus-cloud.example"),
    ],
}

PDF_DOCS["finance/vendor-invoice-brightline-2024-10.pdf"] = {
    "title": "Brightline Legal LLP - Invoice BL-24-0931",
    "footer": "Brightline Legal LLP - Privileged and confidential",
    "blocks": [
        ("title", "Brightline Legal LLP - Invoice BL-24-0931"),
        ("p", "Brightline Legal LLP, 40 Fleet Court, London EC4A 9ZZ, United Kingdom"),
        ("h", "Client"),
        ("p", "Acme Corp, attention Henrik Solberg, General Counsel, 500 Harbor Point Drive, Lakeport"),
        ("h", "Matter"),
        ("p", "Matter 2024-117: Project Nightjar - acquisition due diligence and transaction documents"),
        ("p", "Invoice date: 31 October 2024. Period: 1 October 2024 to 31 October 2024."),
        ("h", "Professional fees"),
        ("p", "R. Castellano, Partner: 62.5 hours at $1,150.00 per hour = $71,875.00"),
        ("p", "M. Adeyemi, Senior Associate: 118.0 hours at $760.00 per hour = $89,680.00"),
        ("p", "T. Nakamura, Associate: 96.5 hours at $520.00 per hour = $50,180.00"),
        ("p", "Total professional fees: $211,735.00"),
        ("h", "Disbursements"),
        ("p", "Virtual data room hosting: $3,400.00"),
        ("p", "Company registry searches and certified translations: $1,015.00"),
        ("p", "Total disbursements: $4,415.00"),
        ("h", "Amount due"),
        ("p", "Total amount due: $216,150.00. VAT: outside the scope of UK VAT (services to a non-UK client)."),
        ("p", "Payment within 30 days by bank transfer to IBAN GB07 MRDN 2074 9118 6252 76, quoting BL-24-0931."),
        ("page",),
        ("h", "Summary of work performed in October 2024"),
        ("p", "Review of the target's 40 largest customer contracts for change-of-control and assignment clauses."),
        ("p", "Identification of 14 contracts with termination rights on a change of control."),
        ("p", "Review of intellectual property assignments from contractors who wrote the matching algorithm."),
        ("p", "Data protection review of the target's hosting arrangements and customer data processing terms."),
        ("p", "Preparation of the first draft of the share purchase agreement and disclosure letter."),
        ("p", "Calls with the Acme deal team, including Henrik Solberg and Charlotte Dubois."),
        ("h", "Approval (Acme internal use)"),
        ("p", "Approved for payment by Henrik Solberg on 6 November 2024."),
        ("p", "Cost code: NIGHTJAR-RESERVE. Processed by Accounts Payable (Fatima Al-Sayed)."),
    ],
}

PDF_DOCS["legal/board-minutes-2024-q4.pdf"] = {
    "title": "Board Minutes Q4 2024 - INTERNAL ONLY",
    "footer": "INTERNAL ONLY - Board of Directors of Acme Corp",
    "blocks": [
        ("title", "Minutes of the Board of Directors - Q4 2024"),
        ("p", "INTERNAL ONLY. Meeting held on 10 December 2024 at 500 Harbor Point Drive, Lakeport."),
        ("h", "Attendance"),
        ("p", "Directors: Margaret Okafor (Chair), Lena Vogt, Marcus Reid, Adaeze Nwosu."),
        ("p", "Also present: Daniel Reyes (CFO), Priya Raman (CTO), Henrik Solberg (General Counsel, Secretary)."),
        ("p", "Aisha Bello (VP People Operations) attended for item 6 only."),
        ("h", "1. Minutes of the previous meeting"),
        ("p", "The minutes of the meeting of 17 September 2024 were approved."),
        ("h", "2. FY2025 budget"),
        ("p", "Daniel Reyes presented the FY2025 budget plan prepared by the Financial Controller."),
        ("p", "The board approved the FY2025 budget with total operating expenses of $58.6 million."),
        ("p", "A separate reserve of $4.5 million was approved for Project Nightjar transaction costs."),
        ("h", "3. Project Nightjar"),
        ("p", "Henrik Solberg summarised the legal due diligence performed by Brightline Legal LLP."),
        ("p", "The board authorised management to negotiate a definitive agreement for Project Nightjar."),
        ("p", "The enterprise value may not exceed $84 million without further board approval."),
        ("p", "Lena Vogt asked for an independent fairness opinion before signing; management agreed."),
        ("h", "4. Project Halcyon"),
        ("p", "The board approved the ten-year lease of Riverside Commons for Project Halcyon."),
        ("p", "The total rent commitment over the term is approximately $16.6 million after the rent-free period."),
        ("page",),
        ("h", "5. Reliability update"),
        ("p", "Priya Raman reported that there was no SEV1 incident in Q3 or Q4 2024."),
        ("p", "The September certificate expiry in Vault-7 was a SEV2 incident and its action items are complete."),
        ("p", "The board ended the requirement for a reliability update at every meeting."),
        ("h", "6. People"),
        ("p", "Aisha Bello presented the engagement survey: 78% of employees are engaged, up from 74%."),
        ("p", "Engineering compensation bands for 2025 were increased by 4%."),
        ("h", "7. Project Bluefin"),
        ("p", "Henrik Solberg presented the regulatory assessment prepared by Charlotte Dubois."),
        ("p", "The board approved negotiating a term sheet with Cobalt Community Bank as partner bank for the pilot."),
        ("h", "8. Next meeting"),
        ("p", "The next meeting of the board will be held on 11 March 2025."),
        ("p", "Signed: Henrik Solberg, Secretary. Approved: Margaret Okafor, Chair."),
    ],
}

PDF_DOCS["legal/nda-kestrel-mutual.pdf"] = {
    "title": "Mutual Non-Disclosure Agreement - Acme Corp and Kestrel Ledger Ltd",
    "footer": "Confidential - Mutual NDA Acme Corp / Kestrel Ledger Ltd",
    "blocks": [
        ("title", "Mutual Non-Disclosure Agreement"),
        ("p", "This Mutual Non-Disclosure Agreement is made on 26 August 2024 (the Effective Date) between:"),
        ("p", "(1) Acme Corp, a Delaware corporation whose principal office is at 500 Harbor Point Drive, Lakeport "
              "(Acme); and"),
        ("p", "(2) Kestrel Ledger Ltd, a company registered in England and Wales under number 14302217, whose "
              "registered office is at 7 Quayside Mews, London E14 9ZZ (Kestrel)."),
        ("h", "1. Purpose"),
        ("p", "The parties wish to evaluate a possible business combination or other strategic transaction "
              "between them (the Purpose)."),
        ("h", "2. Confidential Information"),
        ("p", "Confidential Information means all non-public information disclosed by one party to the other "
              "in connection with the Purpose, including financial data, customer lists, contracts, source code "
              "and product plans, whether disclosed orally, in writing or electronically."),
        ("h", "3. Obligations"),
        ("p", "Each party shall use the other party's Confidential Information only for the Purpose."),
        ("p", "Each party shall disclose Confidential Information only to its directors, employees and "
              "professional advisers who need to know it for the Purpose and are bound by duties of "
              "confidentiality at least as strict as this Agreement."),
        ("h", "4. Exceptions"),
        ("p", "The obligations do not apply to information that is or becomes public other than through a breach "
              "of this Agreement, that the receiving party already lawfully knew, or that it developed "
              "independently."),
        ("page",),
        ("h", "5. Term"),
        ("p", "This Agreement remains in force for two years from the Effective Date."),
        ("p", "The confidentiality obligations survive for three years after the end of this Agreement."),
        ("h", "6. Non-solicitation"),
        ("p", "For 12 months after the Effective Date, neither party shall solicit for employment any employee "
              "of the other party with whom it had contact in connection with the Purpose."),
        ("h", "7. Return of information"),
        ("p", "On written request, each party shall return or destroy the other party's Confidential Information "
              "within 10 business days."),
        ("h", "8. No obligation"),
        ("p", "Nothing in this Agreement obliges either party to proceed with any transaction."),
        ("h", "9. Governing law"),
        ("p", "This Agreement is governed by the laws of England and Wales."),
        ("p", "The courts of London have exclusive jurisdiction over any dispute arising from it."),
        ("h", "Signatures"),
        ("p", "For Acme Corp: Henrik Solberg, General Counsel, 26 August 2024."),
        ("p", "For Kestrel Ledger Ltd: Imogen Hartley, Chief Executive Officer, 26 August 2024."),
    ],
}

DOCX_DOCS["hr/offer-letter-nia-thompson.docx"] = {
    "title": "Offer of Employment - Nia Thompson",
    "blocks": [
        ("title", "Offer of Employment"),
        ("p", "CONFIDENTIAL"),
        ("p", "Acme Corp, 500 Harbor Point Drive, Lakeport"),
        ("p", "2 December 2024"),
        ("p", "Nia Thompson, 58 Alder Row, Lakeport, WA 98953"),
        ("p", "Dear Nia,"),
        ("p", "We are delighted to offer you the position of Data Analyst in the Data Team at Acme Corp. "
              "You will report to Ravi Deshpande, Data Team Lead, and your start date will be 13 January 2025."),
        ("h", "Compensation"),
        ("p", "Your annual base salary will be $96,000, paid semi-monthly, at level L3 of the engineering "
              "compensation bands."),
        ("p", "You will receive a sign-on bonus of $5,000, which must be repaid in full if you leave Acme "
              "within 12 months of your start date."),
        ("p", "You will be eligible for an annual bonus with a target of 10% of base salary and will receive "
              "a grant of 600 restricted stock units, vesting over four years."),
        ("h", "Benefits and working arrangements"),
        ("p", "You will be eligible for Acme's health insurance, 401(k) plan and 28 days of paid vacation. "
              "The role is hybrid, based in the Lakeport office, with up to three remote days per week."),
        ("h", "Conditions"),
        ("p", "This offer is contingent on a satisfactory background check and proof of your eligibility "
              "to work in the United States."),
        ("p", "Your employee id will be EMP-11720. Please confirm your personal phone number (+1-555-0174) "
              "and date of birth (3 May 1999) for the payroll record."),
        ("p", "Please sign and return this letter by 9 December 2024."),
        ("p", "Sincerely,"),
        ("p", "Aisha Bello, VP People Operations, Acme Corp"),
    ],
}

DOCX_DOCS["legal/dpa-template.docx"] = {
    "title": "Data Processing Agreement (Template)",
    "blocks": [
        ("title", "Data Processing Agreement - Standard Template"),
        ("p", "Template version 2.3, owned by Legal (Charlotte Dubois). For use with ACME Payments, Ledger Sync "
              "and Acme Insights merchant agreements."),
        ("h", "1. Subject matter and duration"),
        ("p", "Acme Corp processes personal data on behalf of the merchant only to provide the services "
              "described in the Merchant Services Agreement, for the duration of that agreement."),
        ("h", "2. Instructions"),
        ("p", "Acme processes personal data only on documented instructions from the merchant, unless "
              "required to do otherwise by law."),
        ("h", "3. Confidentiality and security"),
        ("p", "Acme ensures that everyone authorised to process the personal data is bound by confidentiality "
              "and implements the technical and organisational measures described in Annex II."),
        ("h", "4. Subprocessors"),
        ("p", "The merchant authorises Acme to use the following subprocessors:"),
        ("p", "Nimbus Cloud Hosting Inc. provides infrastructure hosting in the United States and the European Union."),
        ("p", "Postwave Mail Services provides transactional e-mail delivery from the European Union."),
        ("p", "Acme will give the merchant at least 30 days' notice before adding a new subprocessor, "
              "during which the merchant may object."),
        ("h", "5. Personal data breaches"),
        ("p", "Acme will notify the merchant of a personal data breach without undue delay and in any event "
              "within 48 hours after becoming aware of it."),
        ("h", "6. Assistance"),
        ("p", "Acme will assist the merchant in responding to requests from data subjects and in carrying "
              "out data protection impact assessments."),
        ("h", "7. Deletion or return"),
        ("p", "At the end of the services, Acme will delete or return all personal data within 60 days, "
              "except where law requires longer retention, such as transaction records kept for seven years."),
        ("h", "8. Audits"),
        ("p", "The merchant may audit Acme's compliance once per year with 30 days' notice, or rely on "
              "Acme's SOC 2 Type II report."),
        ("h", "9. International transfers"),
        ("p", "Transfers of personal data outside the European Economic Area are based on the Standard "
              "Contractual Clauses adopted by the European Commission."),
    ],
}

# ---------------------------------------------------------------------------
# PDF writer
# ---------------------------------------------------------------------------

PAGE_W, PAGE_H = 612, 792  # US Letter
MARGIN_L, MARGIN_TOP, MARGIN_BOTTOM = 56, 60, 64
STYLES = {  # font resource, size, leading, wrap width (characters)
    "title": ("F2", 16, 24, 60),
    "h": ("F2", 12, 18, 75),
    "p": ("F1", 10, 14, 92),
}
GAP_AFTER = {"title": 8, "h": 2, "p": 6}


def _pdf_str(text: str) -> bytes:
    raw = text.encode("cp1252")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _layout(blocks):
    """Return a list of pages; each page is a list of (font, size, y, text)."""
    pages, page = [], []
    y = PAGE_H - MARGIN_TOP
    for block in blocks:
        kind = block[0]
        if kind == "page":
            pages.append(page)
            page, y = [], PAGE_H - MARGIN_TOP
            continue
        font, size, leading, width = STYLES[kind]
        lines = textwrap.wrap(block[1], width=width, break_long_words=False, break_on_hyphens=False)
        needed = leading * min(len(lines), 2)
        if kind in ("h", "title"):
            needed += 2 * STYLES["p"][2]  # keep heading with the next lines
        if y - needed < MARGIN_BOTTOM and page:
            pages.append(page)
            page, y = [], PAGE_H - MARGIN_TOP
        for line in lines:
            if y - leading < MARGIN_BOTTOM:
                pages.append(page)
                page, y = [], PAGE_H - MARGIN_TOP
            y -= leading
            page.append((font, size, y, line))
        y -= GAP_AFTER[kind]
    if page:
        pages.append(page)
    return pages


def build_pdf(spec: dict) -> bytes:
    pages = _layout(spec["blocks"])
    n = len(pages)
    # object numbers: 1 catalog, 2 pages, 3 font F1, 4 font F2, 5 info,
    # then for each page: page object, content object
    objs: dict[int, bytes] = {}
    objs[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    kids = " ".join(f"{6 + 2 * i} 0 R" for i in range(n))
    objs[2] = f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode()
    objs[3] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    objs[4] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"
    objs[5] = (b"<< /Title " + _pdf_str(spec["title"]) + b" /Author (Acme Corp - fictional sample data)"
               b" /Producer (make_binary_docs.py) /CreationDate (D:20250106090000Z) >>")
    for i, lines in enumerate(pages):
        page_no, content_no = 6 + 2 * i, 7 + 2 * i
        ops = [b"BT"]
        for font, size, y, text in lines:
            ops.append(f"/{font} {size} Tf 1 0 0 1 {MARGIN_L} {y} Tm".encode() + b" " + _pdf_str(text) + b" Tj")
        footer = f"{spec['footer']} - Page {i + 1} of {n}"
        ops.append(f"/F1 8 Tf 1 0 0 1 {MARGIN_L} 36 Tm".encode() + b" " + _pdf_str(footer) + b" Tj")
        ops.append(b"ET")
        stream = b"\n".join(ops) + b"\n"
        objs[content_no] = f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"endstream"
        objs[page_no] = (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] "
                         f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {content_no} 0 R >>").encode()
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(objs):
        offsets[num] = len(out)
        out += f"{num} 0 obj\n".encode() + objs[num] + b"\nendobj\n"
    xref_pos = len(out)
    size = max(objs) + 1
    out += f"xref\n0 {size}\n".encode()
    out += b"0000000000 65535 f \n"
    for num in range(1, size):
        out += f"{offsets[num]:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {size} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref_pos}\n%%EOF\n".encode()
    return bytes(out)


# ---------------------------------------------------------------------------
# DOCX writer
# ---------------------------------------------------------------------------

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>
<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>
</Types>"""

ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>
</Relationships>"""

DOC_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
</Relationships>"""

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

STYLES_XML = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles xmlns:w="{W_NS}">
<w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii="Calibri" w:hAnsi="Calibri"/><w:sz w:val="22"/></w:rPr></w:rPrDefault></w:docDefaults>
<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/><w:pPr><w:spacing w:after="160"/></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:rPr><w:b/><w:sz w:val="40"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:pPr><w:keepNext/><w:outlineLvl w:val="0"/></w:pPr><w:rPr><w:b/><w:sz w:val="28"/></w:rPr></w:style>
</w:styles>"""


def _core_xml(title: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<dc:title>{xml_escape(title)}</dc:title>
<dc:creator>Acme Corp (fictional sample data)</dc:creator>
<dcterms:created xsi:type="dcterms:W3CDTF">2025-01-06T09:00:00Z</dcterms:created>
</cp:coreProperties>"""


def build_docx(spec: dict) -> bytes:
    import io

    paras = []
    for kind, text in spec["blocks"]:
        style = {"title": "Title", "h": "Heading1", "p": None}[kind]
        ppr = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
        paras.append(f'<w:p>{ppr}<w:r><w:t xml:space="preserve">{xml_escape(text)}</w:t></w:r></w:p>')
    body = "".join(paras)
    document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<w:document xmlns:w="{W_NS}"><w:body>{body}'
                f'<w:sectPr><w:pgSz w:w="12240" w:h="15840"/>'
                f'<w:pgMar w:top="1440" w:right="1440" w:bottom="1440" w:left="1440"/></w:sectPr>'
                f'</w:body></w:document>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in [("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", ROOT_RELS),
                           ("word/document.xml", document), ("word/_rels/document.xml.rels", DOC_RELS),
                           ("word/styles.xml", STYLES_XML), ("docProps/core.xml", _core_xml(spec["title"]))]:
            info = zipfile.ZipInfo(name, date_time=(2025, 1, 6, 9, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def main() -> None:
    for rel, spec in PDF_DOCS.items():
        path = CORPUS / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(build_pdf(spec))
        print(f"wrote {rel} ({len(_layout(spec['blocks']))} pages)")
    for rel, spec in DOCX_DOCS.items():
        path = CORPUS / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(build_docx(spec))
        print(f"wrote {rel}")


if __name__ == "__main__":
    main()
